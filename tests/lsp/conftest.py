"""Fixtures: the real `cordon lsp` binary over stdio, through pytest-lsp.

`editor`          a session offering only UTF-16 (what most editors offer).
`encoded_editor`  parametrized: once offering UTF-8 (so UTF-8 is chosen) and
                  once offering only UTF-16.

Per-test server set-up through markers:
    @pytest.mark.init_options({...})   initializationOptions
    @pytest.mark.workspace(path)       workspace root (default: tests/fixtures/shop)
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from support import BINARY, SHOP, Editor, RawServer, remove_scratch, server_env

SERVER = ClientServerConfig(
    server_command=[str(BINARY), "lsp", "--stdio"],
    server_env=server_env(),
)


def pytest_sessionstart(session):
    if not BINARY.is_file():
        pytest.exit(
            f"cordon binary not found at {BINARY}: build it first with "
            "`cargo build --release -p cordon` (or set CORDON_BIN)",
            returncode=1,
        )


def pytest_sessionfinish(session, exitstatus):
    remove_scratch()


def capabilities(encodings: list[str]) -> types.ClientCapabilities:
    """What a current editor announces, with the given position encodings."""
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind(e) for e in encodings]
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(),
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(snippet_support=False),
            ),
            inline_completion=types.InlineCompletionClientCapabilities(),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=[
                            types.CodeActionKind.Refactor,
                            types.CodeActionKind.RefactorExtract,
                            types.CodeActionKind.RefactorRewrite,
                        ]
                    )
                ),
                data_support=True,
                disabled_support=True,
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
            ),
            hover=types.HoverClientCapabilities(
                content_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText]
            ),
        ),
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            configuration=False,
            did_change_configuration=types.DidChangeConfigurationClientCapabilities(),
            execute_command=types.ExecuteCommandClientCapabilities(),
        ),
        window=types.WindowClientCapabilities(work_done_progress=True),
    )


def _marker_arg(request, name, default):
    marker = request.node.get_closest_marker(name)
    return marker.args[0] if marker else default


async def _start(lsp_client: LanguageClient, request, encodings: list[str]) -> Editor:
    root = _marker_arg(request, "workspace", SHOP)
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(encodings),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            root_uri=root.as_uri(),
            initialization_options=_marker_arg(request, "init_options", None),
        )
    )
    negotiated = result.capabilities.position_encoding
    assert negotiated is not None, "the server must state its position encoding"
    editor = Editor(lsp_client, str(negotiated), root, result)
    lsp_client.cordon_editor = editor
    return editor


async def _stop(lsp_client: LanguageClient) -> None:
    server = lsp_client._server
    if server is not None and server.returncode is None:
        await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, request):
    await _start(lsp_client, request, ["utf-16"])
    yield
    await _stop(lsp_client)


@pytest_lsp.fixture(config=SERVER, params=["utf-8", "utf-16"])
async def encoded_client(lsp_client: LanguageClient, request):
    # Offering UTF-8 as editors do (next to the mandatory UTF-16) must pick
    # UTF-8; offering only UTF-16 must pick UTF-16.
    offered = ["utf-16", "utf-8"] if request.param == "utf-8" else ["utf-16"]
    editor = await _start(lsp_client, request, offered)
    assert editor.encoding == request.param
    yield
    await _stop(lsp_client)


@pytest_asyncio.fixture
async def editor(client) -> Editor:
    return client.cordon_editor


@pytest_asyncio.fixture
async def encoded_editor(encoded_client) -> Editor:
    return encoded_client.cordon_editor


@pytest.fixture
def raw():
    """A server driven with hand-made JSON-RPC frames (not initialized)."""
    server = RawServer()
    yield server
    server.kill()

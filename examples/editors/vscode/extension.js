// A minimal VS Code extension that runs `cordon lsp`.
// vscode-languageclient turns the server's capabilities into VS Code
// features: ghost text (inlineCompletion), completion items, code actions,
// the `cordon.explain` / `cordon.refactor` commands, and hover.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

// The settings the server knows (see `cordon.*` in package.json); `path` is
// the extension's own and is not sent.
const SERVER_KEYS = ['debounce_ms', 'inline_completion', 'hover_explain', 'prefix_chars', 'suffix_chars'];

/** `{ cordon: { ... } }` with the values that are set. */
function serverSettings() {
  const config = vscode.workspace.getConfiguration('cordon');
  const cordon = {};
  for (const key of SERVER_KEYS) {
    const value = config.get(key);
    if (value !== undefined && value !== null) {
      cordon[key] = value;
    }
  }
  return { cordon };
}

let client;

function createClient() {
  const command = vscode.workspace.getConfiguration('cordon').get('path') || 'cordon';
  return new LanguageClient(
    'cordon',
    'Cordon',
    { command, args: ['lsp'] }, // stdio
    {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      initializationOptions: serverSettings(),
    },
  );
}

async function restart() {
  if (client) {
    await client.stop();
  }
  client = createClient(); // picks up a changed `cordon.path`
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('cordon') && client && client.isRunning()) {
        client.sendNotification('workspace/didChangeConfiguration', { settings: serverSettings() });
      }
    }),
    vscode.commands.registerCommand('cordon.restart', restart),
  );
  await restart();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

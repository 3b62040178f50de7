// A minimal VS Code extension that runs `cordon lsp`.
// vscode-languageclient turns the server's capabilities into VS Code
// features: ghost text (inlineCompletion), completion items, code actions,
// the `cordon.explain` / `cordon.refactor` commands (an explanation opens as
// a Markdown editor: window/showDocument), and hover. The server's
// `cordon/status` notifications show in a status bar item.
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
let statusItem;

const STATUS_ICONS = {
  ready: '$(check)',
  working: '$(sync~spin)',
  excluded: '$(circle-slash)',
  unavailable: '$(cloud-offline)',
  failed: '$(error)',
};

/** `cordon/status`: { state, message, uri? } in the status bar. */
function showStatus({ state, message }) {
  statusItem.text = `${STATUS_ICONS[state] || ''} Cordon`.trim();
  statusItem.tooltip = message ? `Cordon: ${state}. ${message}` : `Cordon: ${state}`;
  statusItem.backgroundColor = state === 'failed'
    ? new vscode.ThemeColor('statusBarItem.errorBackground')
    : (state === 'unavailable' || state === 'excluded')
      ? new vscode.ThemeColor('statusBarItem.warningBackground')
      : undefined;
  statusItem.show();
}

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
  client.onNotification('cordon/status', showStatus);
  await client.start();
}

async function activate(context) {
  statusItem = vscode.window.createStatusBarItem('cordon.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'Cordon';
  statusItem.command = 'cordon.restart';
  context.subscriptions.push(
    statusItem,
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

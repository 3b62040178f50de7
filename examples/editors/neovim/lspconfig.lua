-- Cordon through the lspconfig style of configuration.
-- Cordon is not (yet) in nvim-lspconfig's list of servers, so it is declared
-- here. Pick the block for your Neovim.

local config = {
  cmd = { 'cordon', 'lsp' },
  filetypes = { 'rust', 'python', 'javascript', 'typescript', 'go', 'c', 'cpp', 'lua', 'markdown' },
  root_markers = { '.cordon', '.git', 'Cargo.toml', 'package.json', 'pyproject.toml', 'go.mod' },
  -- initializationOptions, and what workspace/didChangeConfiguration sends.
  init_options = { cordon = { debounce_ms = 100, inline_completion = true } },
  settings = { cordon = { debounce_ms = 100, inline_completion = true } },
}

if vim.lsp.config then
  -- Neovim 0.11+: the built-in successor of nvim-lspconfig's setup().
  vim.lsp.config('cordon', config)
  vim.lsp.enable('cordon')
else
  -- Neovim 0.8 - 0.10 with the nvim-lspconfig plugin.
  local lspconfig = require('lspconfig')
  local configs = require('lspconfig.configs')
  if not configs.cordon then
    configs.cordon = {
      default_config = {
        cmd = config.cmd,
        filetypes = config.filetypes,
        root_dir = lspconfig.util.root_pattern(unpack(config.root_markers)),
        init_options = config.init_options,
        settings = config.settings,
      },
    }
  end
  lspconfig.cordon.setup({})
end

-- Cordon through the lspconfig style of configuration.
-- Cordon is not (yet) in nvim-lspconfig's list of servers, so it is declared
-- here. Neovim 0.11+: no plugin needed. Neovim 0.8 - 0.10: needs the
-- nvim-lspconfig plugin (without it, use cordon-0.7.lua).

local config = {
  cmd = { 'cordon', 'lsp' },
  filetypes = { 'rust', 'python', 'javascript', 'typescript', 'go', 'c', 'cpp', 'lua', 'markdown' },
  root_markers = { '.cordon', '.git', 'Cargo.toml', 'package.json', 'pyproject.toml', 'go.mod' },
  -- initializationOptions, and what workspace/didChangeConfiguration sends.
  init_options = { cordon = { debounce_ms = 100, inline_completion = true } },
  settings = { cordon = { debounce_ms = 100, inline_completion = true } },
  handlers = {
    -- ready | working | excluded | unavailable | failed, for the statusline:
    --   vim.o.statusline = '%f %m%=%{get(g:,"cordon_status","")}  %l:%c '
    ['cordon/status'] = function(_, params)
      vim.g.cordon_status = params and params.state or ''
      vim.g.cordon_status_message = params and params.message or ''
      vim.cmd('redrawstatus!')
    end,
  },
  on_attach = function(client, buf)
    if vim.lsp.completion then -- 0.11+: the menu as you type (after `.` and `:`)
      -- Insert nothing until an item is picked (<C-n>/<C-p>, then <C-y>).
      vim.bo[buf].completeopt = 'menu,menuone,noselect,popup'
      vim.lsp.completion.enable(true, client.id, buf, { autotrigger = true })
    else
      vim.o.completeopt = 'menu,menuone,noselect'
      vim.bo[buf].omnifunc = 'v:lua.vim.lsp.omnifunc' -- <C-x><C-o>
    end
  end,
}

if vim.lsp.config and vim.lsp.enable then
  -- Neovim 0.11+: the built-in successor of nvim-lspconfig's setup().
  vim.lsp.config('cordon', config)
  vim.lsp.enable('cordon')
else
  -- Neovim 0.8 - 0.10 with the nvim-lspconfig plugin.
  local ok, lspconfig = pcall(require, 'lspconfig')
  if not ok then
    vim.notify('cordon: lspconfig.lua needs the nvim-lspconfig plugin on Neovim < 0.11; use cordon-0.7.lua instead',
      vim.log.levels.WARN)
    return
  end
  local configs = require('lspconfig.configs')
  if not configs.cordon then
    configs.cordon = {
      default_config = {
        cmd = config.cmd,
        filetypes = config.filetypes,
        root_dir = lspconfig.util.root_pattern(unpack(config.root_markers)),
        init_options = config.init_options,
        settings = config.settings,
        handlers = config.handlers,
      },
    }
  end
  lspconfig.cordon.setup({ on_attach = config.on_attach })
end

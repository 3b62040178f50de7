-- Cordon in Neovim 0.8+ with the built-in client (no plugins needed).
-- Put this file in ~/.config/nvim/plugin/cordon.lua, or `require` it.
--
-- Completion items: <C-x><C-o> (omnifunc); with Neovim 0.11+ they pop up as
-- you type. Ghost text (textDocument/inlineCompletion): Neovim 0.12+, accept
-- with <C-f>. Refactor / explain: `gra` (0.11+) or :lua vim.lsp.buf.code_action().

local root_markers = { '.cordon', '.git', 'Cargo.toml', 'package.json', 'pyproject.toml', 'go.mod' }

vim.api.nvim_create_autocmd('FileType', {
  group = vim.api.nvim_create_augroup('cordon', { clear = true }),
  -- Any file type you want assistance in.
  pattern = { 'rust', 'python', 'javascript', 'typescript', 'go', 'c', 'cpp', 'lua', 'markdown' },
  callback = function(args)
    local found = vim.fs.find(root_markers, { upward = true, path = vim.api.nvim_buf_get_name(args.buf) })[1]
    vim.lsp.start({
      name = 'cordon',
      cmd = { 'cordon', 'lsp' },
      root_dir = found and vim.fs.dirname(found) or vim.fn.getcwd(),
      -- Optional: every key and its default.
      init_options = {
        cordon = {
          debounce_ms = 100,         -- quiet time before ghost text is computed
          inline_completion = true,  -- answer textDocument/inlineCompletion
          hover_explain = false,     -- explain on hover (calls a model on every hover)
        },
      },
    }, { bufnr = args.buf })
  end,
})

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('cordon-attach', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= 'cordon' then
      return
    end
    vim.bo[args.buf].omnifunc = 'v:lua.vim.lsp.omnifunc'
    if vim.lsp.completion then -- 0.11+: completion menu as you type
      vim.lsp.completion.enable(true, client.id, args.buf, { autotrigger = true })
    end
    if vim.lsp.inline_completion then -- 0.12+: ghost text
      vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
      vim.keymap.set('i', '<C-f>', vim.lsp.inline_completion.get,
        { buffer = args.buf, desc = 'Cordon: accept ghost text' })
    end
  end,
})

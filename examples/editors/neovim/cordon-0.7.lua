-- Cordon in Neovim 0.7 - 0.10 (e.g. Debian 12's 0.7.2), built-in client,
-- no plugins. On 0.11+ use cordon.lua beside this file instead.
-- Put this file in ~/.config/nvim/plugin/cordon.lua.
--
-- Completion items: <C-x><C-o> (omnifunc; nothing pops up by itself).
-- Refactor / explain: :lua vim.lsp.buf.code_action()  (no ghost text); an
-- explanation opens in a split.
-- The server's state is in `vim.g.cordon_status` (see the end of the file).

local filetypes = { 'rust', 'python', 'javascript', 'typescript', 'go', 'c', 'cpp', 'lua', 'markdown' }
local root_markers = { '.cordon', '.git', 'Cargo.toml', 'package.json', 'pyproject.toml', 'go.mod' }

-- Nothing is inserted until you pick an item (<C-n>/<C-p>, then <C-y>).
vim.o.completeopt = 'menu,menuone,noselect'

-- The nearest folder above `path` holding one of the root markers.
local function root_of(path)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  while true do
    for _, marker in ipairs(root_markers) do
      if vim.fn.glob(dir .. '/' .. marker, true) ~= '' then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then
      return vim.fn.getcwd()
    end
    dir = parent
  end
end

vim.g.cordon_status = ''
vim.g.cordon_status_message = ''
local clients = {} -- root folder -> client id

-- Explanations arrive as a Markdown file to show (window/showDocument):
-- open it in a split beside the code, where it stays.
local capabilities = vim.lsp.protocol.make_client_capabilities()
capabilities.window = capabilities.window or {}
capabilities.window.showDocument = { support = true }
local function show_document(_, result)
  if not result or not result.uri or result.external then
    return { success = false }
  end
  local code_win = vim.api.nvim_get_current_win()
  local buf = vim.fn.bufadd(vim.uri_to_fname(result.uri))
  vim.api.nvim_buf_set_var(buf, 'cordon_explanation', true) -- no Cordon for it
  local loaded = vim.api.nvim_buf_is_loaded(buf)
  vim.cmd('belowright sbuffer ' .. buf)
  if loaded then -- a new explanation in the same file
    vim.cmd('silent edit!')
  end
  vim.api.nvim_buf_set_option(buf, 'bufhidden', 'wipe')
  if not result.takeFocus then
    vim.api.nvim_set_current_win(code_win)
  end
  return { success = true }
end

vim.api.nvim_create_autocmd('FileType', {
  group = vim.api.nvim_create_augroup('cordon', { clear = true }),
  pattern = filetypes,
  callback = function(args)
    if vim.b[args.buf].cordon_explanation then
      return
    end
    local root = root_of(vim.api.nvim_buf_get_name(args.buf))
    local id = clients[root]
    if not id or not vim.lsp.get_client_by_id(id) then
      id = vim.lsp.start_client({
        name = 'cordon',
        cmd = { 'cordon', 'lsp' },
        root_dir = root,
        capabilities = capabilities,
        handlers = {
          ['window/showDocument'] = show_document,
          ['cordon/status'] = function(_, params)
            vim.g.cordon_status = params and params.state or ''
            vim.g.cordon_status_message = params and params.message or ''
            vim.cmd('redrawstatus!')
          end,
        },
      })
      clients[root] = id
    end
    if id then
      vim.lsp.buf_attach_client(args.buf, id)
      vim.api.nvim_buf_set_option(args.buf, 'omnifunc', 'v:lua.vim.lsp.omnifunc')
    end
  end,
})

-- Statusline, e.g.:
--   vim.o.statusline = '%f %m%=%{v:lua.cordon_status()}  %l:%c '
function _G.cordon_status()
  local state = vim.g.cordon_status
  if state == nil or state == '' then
    return ''
  end
  return 'cordon: ' .. state
end

-- Cordon in Neovim 0.11+ with the built-in client (no plugins needed).
-- Put this file in ~/.config/nvim/plugin/cordon.lua, or `require` it.
-- (Neovim 0.7 - 0.10: use cordon-0.7.lua beside this file.)
--
-- Completion items pop up after `.` and `:` and on <C-Space> (or
-- <C-x><C-o>); nothing is inserted until you pick an item: <C-n>/<C-p> to
-- choose, <C-y> to accept. Ghost text (textDocument/inlineCompletion):
-- Neovim 0.12+, accept with <C-f>. Refactor / explain: `gra` (or
-- :lua vim.lsp.buf.code_action()); an explanation opens as a Markdown
-- buffer in a split. The server's state is in `vim.g.cordon_status`: see
-- the statusline at the end of this file.

local filetypes = { 'rust', 'python', 'javascript', 'typescript', 'go', 'c', 'cpp', 'lua', 'markdown' }
local root_markers = { '.cordon', '.git', 'Cargo.toml', 'package.json', 'pyproject.toml', 'go.mod' }

-- `cordon/status` notifications: ready | working | excluded | unavailable |
-- failed, with a one-sentence message (and the document's uri, if any).
vim.g.cordon_status = ''
vim.g.cordon_status_message = ''
vim.lsp.handlers['cordon/status'] = function(_, params)
  if type(params) ~= 'table' then
    return
  end
  vim.g.cordon_status = params.state or ''
  vim.g.cordon_status_message = params.message or ''
  vim.cmd('redrawstatus!')
end

-- Explanations arrive as a Markdown file the server asks to show
-- (window/showDocument): open it in a split beside the code, so both stay
-- readable. (Neovim's own handler would replace the code in its window.)
local function show_document(_, result, ctx)
  if not result or not result.uri or result.external then
    return vim.lsp.handlers['window/showDocument'](_, result, ctx)
  end
  local code_win = vim.api.nvim_get_current_win()
  local buf = vim.fn.bufadd(vim.uri_to_fname(result.uri))
  vim.b[buf].cordon_explanation = true -- no Cordon for the explanation itself
  local loaded = vim.api.nvim_buf_is_loaded(buf)
  local wide = vim.api.nvim_win_get_width(code_win) >= 160
  vim.cmd((wide and 'vertical ' or '') .. 'belowright sbuffer ' .. buf)
  if loaded then -- a new explanation in the same file
    vim.cmd('silent edit!')
  end
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].modifiable = false
  if not result.takeFocus then
    vim.api.nvim_set_current_win(code_win)
  end
  return { success = true }
end

-- Messages (window/showMessage: a failed command, a backend that cannot be
-- used) on one line of the command line: Neovim's own handler ends each in
-- a newline, which stops the editor at a "Press ENTER" prompt. A message
-- wider than the screen is cut; the whole of the last one is in
-- `:echo g:cordon_last_message`.
local levels = { 'ErrorMsg', 'WarningMsg', 'None', 'None' }
local function show_message(_, params)
  if type(params) ~= 'table' or type(params.message) ~= 'string' then
    return
  end
  local text = params.message:gsub('%s+', ' ')
  vim.g.cordon_last_message = text
  local room = math.max(vim.v.echospace - 1, 20)
  if vim.fn.strdisplaywidth(text) > room then
    text = vim.fn.strcharpart(text, 0, room - 1) .. '…'
  end
  vim.api.nvim_echo({ { text, levels[params.type] or 'None' } }, false, {})
end

-- Refactor actions that need your words ("Say what to change…"): Cordon
-- offers them because `ask_instruction` is set below, as the
-- `cordon.refactor` command, which is completed here with what you type.
vim.lsp.commands['cordon.refactor'] = function(command, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return
  end
  local args = vim.deepcopy((command.arguments or {})[1] or {})
  local function send()
    client:request('workspace/executeCommand', { command = command.command, arguments = { args } }, nil, ctx.bufnr)
  end
  if args.needs_instruction and not args.instruction then
    vim.ui.input({ prompt = command.title .. ': ' }, function(text)
      if text and text ~= '' then
        args.instruction = text
        send()
      end
    end)
  else
    send()
  end
end

-- The project root: the nearest folder with a root marker, else the current
-- folder; none for an explanation Cordon wrote.
local function root_of(buf)
  if vim.b[buf].cordon_explanation then
    return nil
  end
  local found = vim.fs.find(root_markers, { upward = true, path = vim.fs.dirname(vim.api.nvim_buf_get_name(buf)) })[1]
  return found and vim.fs.dirname(found) or vim.fn.getcwd()
end

local config = {
  cmd = { 'cordon', 'lsp' },
  filetypes = filetypes,
  root_dir = function(buf, on_dir) -- Neovim 0.11's form
    local root = root_of(buf)
    if root then
      on_dir(root)
    end
  end,
  handlers = { ['window/showDocument'] = show_document, ['window/showMessage'] = show_message },
  -- Optional: every key and its default.
  init_options = {
    cordon = {
      debounce_ms = 100,         -- quiet time before ghost text is computed
      inline_completion = true,  -- answer textDocument/inlineCompletion
      hover_explain = false,     -- explain on hover (calls a model on every hover)
      ask_instruction = true,    -- offer actions that need your words (asked by the handler above)
    },
  },
}

if vim.lsp.config and vim.lsp.enable then
  -- Neovim 0.11+
  vim.lsp.config('cordon', config)
  vim.lsp.enable('cordon')
else
  -- Neovim 0.8 - 0.10
  vim.api.nvim_create_autocmd('FileType', {
    group = vim.api.nvim_create_augroup('cordon', { clear = true }),
    pattern = filetypes,
    callback = function(args)
      local root = root_of(args.buf)
      if root then
        vim.lsp.start(vim.tbl_extend('force', config, { name = 'cordon', root_dir = root }), { bufnr = args.buf })
      end
    end,
  })
end

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('cordon-attach', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= 'cordon' then
      return
    end
    local buf = args.buf
    vim.bo[buf].omnifunc = 'v:lua.vim.lsp.omnifunc'
    if vim.lsp.completion then -- 0.11+: completion menu as you type
      -- Show the menu, even for one item, but select and insert nothing
      -- until you pick: typing on never takes an item you did not choose.
      vim.bo[buf].completeopt = 'menu,menuone,noselect,popup'
      vim.lsp.completion.enable(true, client.id, buf, { autotrigger = true })
      vim.keymap.set('i', '<C-Space>', vim.lsp.completion.get,
        { buffer = buf, desc = 'Cordon: completion menu' })
    else
      vim.o.completeopt = 'menu,menuone,noselect'
    end
    if vim.lsp.inline_completion then -- 0.12+: ghost text
      vim.lsp.inline_completion.enable(true, { bufnr = buf })
      vim.keymap.set('i', '<C-f>', vim.lsp.inline_completion.get,
        { buffer = buf, desc = 'Cordon: accept ghost text' })
    end
  end,
})

-- The title of Cordon's work in progress ("Explaining `restock`…"), for the
-- statusline (Neovim 0.10+ has the LspProgress event).
if vim.fn.exists('##LspProgress') == 1 then
  vim.api.nvim_create_autocmd('LspProgress', {
    group = vim.api.nvim_create_augroup('cordon-progress', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      local value = args.data.params and args.data.params.value
      if not client or client.name ~= 'cordon' or type(value) ~= 'table' then
        return
      end
      if value.kind == 'begin' then
        vim.g.cordon_progress = value.title
      elseif value.kind == 'end' then
        vim.g.cordon_progress = nil
      end
      vim.cmd('redrawstatus!')
    end,
  })
end

-- Statusline: the state and the work in progress, e.g. "cordon: ready" or
-- "cordon: working · Explaining `restock`…". With your own statusline:
--   vim.o.statusline = '%f %m%=%{v:lua.cordon_status()}  %l:%c '
-- With lualine: sections = { lualine_x = { _G.cordon_status } }
function _G.cordon_status()
  local state = vim.g.cordon_status
  if state == nil or state == '' then
    return ''
  end
  local progress = vim.g.cordon_progress
  if progress and progress ~= '' then
    return 'cordon: ' .. state .. ' · ' .. progress
  end
  return 'cordon: ' .. state
end

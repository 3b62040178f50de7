-- Headless check of examples/editors/neovim/cordon-0.7.lua on Debian's
-- Neovim 0.7 (tests/editors/test_neovim07.py): the set-up loads, attaches
-- cordon to the Rust file given on the command line, and shows an
-- explanation in a split. Writes a JSON result to $CORDON_OUT and quits.
local out = vim.env.CORDON_OUT
local function finish(result)
  local file = assert(io.open(out, 'w'))
  file:write(vim.fn.json_encode(result))
  file:close()
  vim.cmd('qall!')
end

local ok, err = pcall(function()
  local buf = vim.api.nvim_get_current_buf()
  local client
  local attached = vim.wait(20000, function()
    client = vim.lsp.get_active_clients()[1]
    return client ~= nil and client.initialized == true and vim.lsp.buf_is_attached(buf, client.id)
  end, 20)
  assert(attached, 'cordon did not attach to the buffer within 20 s')
  local line = tonumber(vim.env.CORDON_LINE) - 1
  local position = { line = line, character = 4 }
  client.request('workspace/executeCommand', {
    command = 'cordon.explain',
    arguments = { { uri = vim.uri_from_bufnr(buf), range = { start = position, ['end'] = position } } },
  }, function() end, buf)
  local shown = vim.wait(20000, function() return #vim.api.nvim_list_wins() == 2 end, 20)
  local other = vim.api.nvim_get_current_win()
  local lines = vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(other), 0, -1, false)
  finish({
    root = client.config.root_dir,
    omnifunc = vim.bo[buf].omnifunc,
    completeopt = vim.o.completeopt,
    windows = #vim.api.nvim_list_wins(),
    shown = shown,
    explanation_file = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(other)),
    explanation = table.concat(lines, '\n'),
    status = vim.g.cordon_status,
  })
end)
if not ok then
  finish({ error = tostring(err) })
end

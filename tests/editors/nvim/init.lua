-- Headless Neovim end-to-end check of `cordon lsp` (used by
-- tests/lsp/test_nvim.py). Works with Neovim 0.7 (Debian bookworm) and later:
-- only vim.lsp.start_client / buf_attach_client / buf_request_sync.
--
-- Environment:
--   CORDON_BIN        the cordon binary
--   CORDON_WORKSPACE  workspace root
--   CORDON_FILE       file to edit (inside the workspace)
--   CORDON_LINE       1-based line of the cursor
--   CORDON_COL        1-based byte column of the cursor; past the end means
--                     after the last character (as in insert mode)
--   CORDON_OUT        where to write the JSON result
--
-- Writes {completion = <CompletionList>, inline = <InlineCompletionList>,
-- line_after = <the cursor line after applying the first item>,
-- encoding = <offset encoding>} (or {error = ...}) and quits.

local env = vim.env
local out_path = env.CORDON_OUT

local function finish(result)
  local file = assert(io.open(out_path, 'w'))
  file:write(vim.fn.json_encode(result))
  file:close()
end

-- The LSP `character` of 0-based byte column `byte_col` of `text`.
local function character(text, byte_col, encoding)
  if encoding == 'utf-8' then
    return byte_col
  end
  local prefix = text:sub(1, byte_col)
  local ok, units = pcall(vim.str_utfindex, prefix, encoding) -- Neovim 0.11+
  if ok and type(units) == 'number' then
    return units
  end
  local utf32, utf16 = vim.str_utfindex(prefix) -- Neovim 0.7 - 0.10
  return encoding == 'utf-16' and utf16 or utf32
end

local function run()
  vim.cmd('edit ' .. vim.fn.fnameescape(env.CORDON_FILE))
  local buf = vim.api.nvim_get_current_buf()

  local client_id = vim.lsp.start_client({
    name = 'cordon',
    cmd = { env.CORDON_BIN, 'lsp' },
    root_dir = env.CORDON_WORKSPACE,
    init_options = { cordon = { debounce_ms = 50 } },
  })
  assert(client_id, 'could not start cordon lsp')
  vim.lsp.buf_attach_client(buf, client_id)

  local client
  local ready = vim.wait(20000, function()
    client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized == true
  end, 20)
  assert(ready, 'cordon lsp did not initialize within 20 s')

  local line = tonumber(env.CORDON_LINE)
  local text = vim.api.nvim_buf_get_lines(buf, line - 1, line, true)[1]
  -- The cursor as in insert mode: it may stand after the last character.
  local byte_col = math.min(tonumber(env.CORDON_COL) - 1, #text)
  local encoding = client.offset_encoding
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(buf),
    position = { line = line - 1, character = character(text, byte_col, encoding) },
  }

  local answers = vim.lsp.buf_request_sync(buf, 'textDocument/completion', params, 20000)
  assert(answers and answers[client_id], 'no completion answer within 20 s')
  assert(not answers[client_id].err, vim.inspect(answers[client_id].err))
  local completion = answers[client_id].result

  -- Ghost text: Neovim 0.7 has no inline-completion UI, but any client can
  -- send the LSP 3.18 request.
  local inline_params = vim.tbl_extend('force', params, { context = { triggerKind = 1 } })
  local inline = vim.lsp.buf_request_sync(buf, 'textDocument/inlineCompletion', inline_params, 20000)
  assert(inline and inline[client_id], 'no inline completion answer within 20 s')

  local line_after = nil
  local items = completion and (completion.items or completion) or {}
  if items[1] and items[1].textEdit then
    vim.lsp.util.apply_text_edits({ items[1].textEdit }, buf, encoding)
    line_after = vim.api.nvim_buf_get_lines(buf, line - 1, line, true)[1]
  end

  finish({
    completion = completion,
    inline = inline[client_id].result,
    inline_error = inline[client_id].err,
    line_after = line_after,
    encoding = encoding,
  })

  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.client_is_stopped(client_id) end, 20)
end

local ok, err = pcall(run)
if not ok then
  pcall(finish, { error = tostring(err) })
end
vim.cmd('qall!')

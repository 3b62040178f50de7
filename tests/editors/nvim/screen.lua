-- Neovim 0.11 on a tmux screen (tests/editors/test_neovim_screen.py): the
-- shipped examples/editors/neovim/cordon.lua, unchanged, plus what a person
-- adds to their own config: its statusline snippet. ($CORDON_EXAMPLE may
-- name lspconfig.lua instead.) `cordon` is the binary
-- under test (first on PATH).
dofile(vim.env.CORDON_EXAMPLE)
vim.o.laststatus = 2
if _G.cordon_status then -- cordon.lua's snippet
  vim.o.statusline = '%f %m%=%{v:lua.cordon_status()}  %l:%c '
else -- lspconfig.lua's
  vim.o.statusline = '%f %m%=%{get(g:,"cordon_status","")}  %l:%c '
end
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'

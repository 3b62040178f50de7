;;; cordon.el --- Cordon with Eglot (Emacs 29+, where Eglot is built in)  -*- lexical-binding: t; -*-

;; Load from your init file: (load "/path/to/cordon.el")
;;
;; Completion items arrive through `completion-at-point' (M-TAB, or as you
;; type with corfu / company); refactor and explain through
;; `eglot-code-actions'. Eglot has no ghost text.
;;
;; Eglot runs one server per major mode and project, so this makes Cordon
;; THE server of the modes listed. Keep your usual server where you need
;; it, and list here the modes you want Cordon in.

(require 'eglot)

(add-to-list 'eglot-server-programs
             '((python-mode python-ts-mode js-mode js-ts-mode typescript-ts-mode
                go-mode go-ts-mode c-mode c-ts-mode markdown-mode)
               . ("cordon" "lsp"
                  ;; Optional; every key and its default.
                  :initializationOptions
                  (:cordon (:debounce_ms 100 :inline_completion t :hover_explain :json-false)))))

;; Start Cordon automatically in those modes:
;; (add-hook 'python-mode-hook #'eglot-ensure)

;;; cordon.el --- Cordon with Eglot (Emacs 28 + elpa-eglot, Emacs 29+)  -*- lexical-binding: t; -*-

;; Emacs 29+: Eglot is built in.  Emacs 28 (e.g. Debian 12): install it
;; first, with Rust mode for Rust files:
;;
;;   apt-get install emacs-nox elpa-eglot elpa-rust-mode
;;   (or M-x package-install RET eglot RET, and rust-mode)
;;
;; Load from your init file: (load "/path/to/cordon.el"), then M-x eglot
;; in a buffer of a listed mode (or uncomment the `eglot-ensure' hook at
;; the end).
;;
;; Completion items arrive through `completion-at-point' (C-M-i / M-TAB,
;; or as you type with corfu / company); nothing is inserted until you
;; pick an item.  Refactor and explain: M-x cordon-code-actions (works on
;; every Eglot version; plain `eglot-code-actions' works where Eglot
;; resolves actions itself).  An explanation opens as a Markdown buffer in
;; another window.  The server's state shows in the mode line as
;; "cordon:ready", "cordon:working", ...
;;
;; Eglot runs one server per major mode and project, so this makes Cordon
;; THE server of the modes listed.  Keep your usual server where you need
;; it, and list here the modes you want Cordon in.

(require 'cl-lib)
(require 'project)
(require 'eglot)

(defvar cordon-modes
  '(rust-mode rust-ts-mode
    python-mode python-ts-mode
    js-mode js-ts-mode javascript-mode typescript-mode typescript-ts-mode tsx-ts-mode
    go-mode go-ts-mode
    c-mode c-ts-mode c++-mode c++-ts-mode
    markdown-mode)
  "Major modes in which Eglot runs Cordon.")

(defclass eglot-cordon (eglot-lsp-server) ()
  :documentation "Cordon, the sandboxed code-assistant language server.")

(add-to-list 'eglot-server-programs
             `(,cordon-modes
               . (eglot-cordon
                  "cordon" "lsp"
                  ;; Optional; every key and its default.
                  :initializationOptions
                  (:cordon (:debounce_ms 100 :inline_completion t :hover_explain :json-false)))))

;;; Project root without version control: the nearest folder holding one
;;; of these (a `.git' still wins: `project-try-vc' runs first).

(defvar cordon-root-markers
  '(".cordon" "Cargo.toml" "pyproject.toml" "package.json" "go.mod")
  "Files or folders that mark the root of a project for Cordon.")

(defun cordon-project-find (dir)
  "A transient project at the nearest folder above DIR with a root marker."
  (let ((root (cl-some (lambda (marker) (locate-dominating-file dir marker))
                       cordon-root-markers)))
    (and root (cons 'transient (expand-file-name root)))))

(add-hook 'project-find-functions #'cordon-project-find 50)

;;; Status: `cordon/status' notifications, shown in the mode line.

(defvar cordon-status nil
  "Cordon's state: \"ready\", \"working\", \"excluded\", \"unavailable\" or \"failed\".")
(defvar cordon-status-message nil
  "The sentence that came with `cordon-status'.")

(defvar cordon-mode-line
  '(:eval (when cordon-status
            (propertize (format " cordon:%s" cordon-status)
                        'help-echo cordon-status-message
                        'face (if (member cordon-status '("failed" "unavailable" "excluded"))
                                  'warning
                                'default))))
  "Mode-line construct showing `cordon-status'.")
(put 'cordon-mode-line 'risky-local-variable t)
(unless (memq 'cordon-mode-line global-mode-string)
  (setq global-mode-string (append (or global-mode-string '("")) '(cordon-mode-line))))

(cl-defmethod eglot-handle-notification
  (_server (_method (eql cordon/status)) &key state message &allow-other-keys)
  "Keep Cordon's STATE and MESSAGE for the mode line."
  (setq cordon-status state
        cordon-status-message message)
  (force-mode-line-update t))

;;; Explanations: the server asks to show a Markdown file
;;; (window/showDocument); Eglot before Emacs 30 cannot, so Cordon's
;;; server class does it: in another window, the code staying in view.

(cl-defmethod eglot-client-capabilities :around ((_server eglot-cordon))
  (let* ((caps (cl-call-next-method))
         (window (plist-get caps :window)))
    (plist-put caps :window (plist-put window :showDocument '(:support t)))))

(defun cordon--uri-to-path (uri)
  (if (fboundp 'eglot-uri-to-path)
      (eglot-uri-to-path uri)
    (eglot--uri-to-path uri)))

(cl-defmethod eglot-handle-request
  ((_server eglot-cordon) (_method (eql window/showDocument))
   &key uri external takeFocus &allow-other-keys)
  "Show URI: an explanation in another window."
  (if (eq external t)
      (browse-url uri)
    (let* ((code (selected-window))
           ;; Not one more document for Eglot and Cordon to manage.
           (buffer (let ((find-file-hook nil)
                         (after-change-major-mode-hook nil))
                     (delay-mode-hooks
                       (find-file-noselect (cordon--uri-to-path uri)))))
           (window (display-buffer buffer '(display-buffer-pop-up-window
                                            (inhibit-same-window . t)))))
      (with-current-buffer buffer
        (setq buffer-read-only t)
        (goto-char (point-min)))
      (select-window (if (and window (eq takeFocus t)) window code))))
  '(:success t))

(defun cordon--drain (server)
  "Read what SERVER sent right after the answer to a waited-for request.
Emacs 28's jsonrpc leaves the messages behind such an answer unread
until the server writes again (e.g. the `ready' that ends a command)."
  (let ((proc (and (fboundp 'jsonrpc--process) (jsonrpc--process server))))
    (when (and proc (process-live-p proc))
      (ignore-errors (funcall (process-filter proc) proc "")))))

;;; Code actions on every Eglot version: Eglot 1.9 (Emacs 28) neither
;;; resolves an action nor runs one that has only data.

(defun cordon-code-actions (beg &optional end)
  "Pick one of Cordon's code actions between BEG and END and apply it."
  (interactive (if (use-region-p)
                   (list (region-beginning) (region-end))
                 (list (point) (point))))
  (let* ((server (eglot--current-server-or-lose))
         (actions (append (jsonrpc-request
                           server :textDocument/codeAction
                           (list :textDocument (eglot--TextDocumentIdentifier)
                                 :range (list :start (eglot--pos-to-lsp-position beg)
                                              :end (eglot--pos-to-lsp-position (or end beg)))
                                 :context '(:diagnostics []))
                           :deferred t)
                          nil))
         (menu (or (mapcar (lambda (a) (cons (plist-get a :title) a)) actions)
                   (user-error "No code actions here")))
         (action (cdr (assoc (completing-read "Cordon action: " menu nil t) menu))))
    (unwind-protect
        (cordon--execute server action)
      (cordon--drain server))))

(defun cordon--execute (server action)
  "Apply code ACTION of SERVER: resolve it if need be, edit, run its command."
  (if (fboundp 'eglot-execute)
      ;; Newer Eglot (Emacs 30): resolves, edits and runs commands itself.
      (eglot-execute server action)
    (when (and (plist-get action :data)
               (not (plist-get action :edit))
               (not (plist-get action :command)))
      (setq action (jsonrpc-request server :codeAction/resolve action)))
    (let ((edit (plist-get action :edit))
          (command (plist-get action :command)))
      (when edit
        (eglot--apply-workspace-edit edit))
      (when command
        ;; Refactors reach Eglot 1.9 as `cordon.refactor' commands whose
        ;; edit the server sends back (workspace/applyEdit) while the
        ;; command runs; the action was just picked, so no second question.
        (let ((eglot-confirm-server-initiated-edits nil))
          (if (stringp command) ; a bare Command
              (eglot-execute-command server (intern command) (plist-get action :arguments))
            (eglot-execute-command server (intern (plist-get command :command))
                                   (plist-get command :arguments))))))))

;; Start Cordon automatically in those modes:
;; (dolist (mode cordon-modes)
;;   (add-hook (intern (format "%s-hook" mode)) #'eglot-ensure))

(provide 'cordon)
;;; cordon.el ends here

// The message composer: Enter sends (Shift+Enter for a new line), replies, file attachments
// uploaded with a progress bar before sending (§7.1, then fileIds), a link preview of the first
// URL (§7.4), typing notices (§8.10), ↑ in an empty composer edits your last message.
import { fileSize, firstUrl, h, replace, toast } from '../dom.js';
import { previewCard } from './messages.js';
import { icon } from '../icons.js';

const MAX_FILES = 10;

export class Composer {
  constructor(root, api, store, chat, actions) {
    this.api = api;
    this.store = store;
    this.chat = chat;
    this.actions = actions;
    this.reply = null; // the message being answered
    this.uploads = []; // {file, progress, attachment, error, handle}
    this.preview = null;
    this.previewFor = null;
    this.previewsOff = false; // the server has no link-preview route
    this.previewTimer = null;

    this.area = h('textarea.input', {
      rows: 1, placeholder: 'Message', 'aria-label': 'Message', 'data-testid': 'composer', maxlength: 10000,
    });
    this.fileInput = h('input', { type: 'file', multiple: true, hidden: true, 'data-testid': 'file-input' });
    this.sendButton = h('button.primary.send', { type: 'submit', 'data-testid': 'send' }, 'Send');
    this.replyBar = h('div.reply-bar', { hidden: true });
    this.uploadBox = h('div.uploads', { 'data-testid': 'uploads' });
    this.previewBox = h('div.preview-slot');
    this.form = h('form.composer', { onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      this.replyBar, this.uploadBox, this.previewBox,
      h('div.row',
        h('button.icon.attach', { type: 'button', title: 'Attach files', 'aria-label': 'Attach files', 'data-testid': 'attach', onclick: () => this.fileInput.click() }, icon('attach')),
        this.fileInput, this.area, this.sendButton));
    replace(root, this.form);

    this.fileInput.addEventListener('change', () => {
      this.addFiles([...this.fileInput.files]);
      this.fileInput.value = '';
    });
    this.area.addEventListener('keydown', (e) => this.onKey(e));
    this.area.addEventListener('input', () => this.onInput());
    this.area.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (files.length) {
        e.preventDefault();
        this.addFiles(files);
      }
    });
    this.form.addEventListener('dragover', (e) => {
      e.preventDefault();
      this.form.classList.add('drop');
    });
    this.form.addEventListener('dragleave', () => this.form.classList.remove('drop'));
    this.form.addEventListener('drop', (e) => {
      e.preventDefault();
      this.form.classList.remove('drop');
      this.addFiles([...(e.dataTransfer?.files || [])]);
    });
    store.on('selection', () => this.onChannel());
    this.onChannel();
  }

  focus() {
    if (matchMedia('(pointer: fine)').matches) this.area.focus();
  }

  onChannel() {
    const ch = this.store.channels.get(this.store.channelId);
    this.form.hidden = !ch;
    if (ch) this.area.placeholder = ch.is_direct_message ? `Message @${this.store.channelLabel(ch)}` : `Message #${ch.name}`;
    this.replyTo(null);
  }

  replyTo(msg) {
    this.reply = msg;
    this.replyBar.hidden = !msg;
    if (msg) {
      replace(this.replyBar, h('span', 'Replying to ', h('strong', msg.sender), ': ', h('span.snippet', msg.content || '(attachment)')),
        h('button.icon', { type: 'button', 'aria-label': 'Cancel reply', onclick: () => this.replyTo(null) }, icon('close')));
      this.area.focus();
    }
  }

  onKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    } else if (e.key === 'Escape' && this.reply) {
      this.replyTo(null);
    } else if (e.key === 'ArrowUp' && !this.area.value) {
      e.preventDefault();
      this.actions.editLast();
    }
  }

  onInput() {
    // Grow with the text, up to the CSS max-height (CSSOM: allowed by the CSP).
    this.area.style.height = 'auto';
    this.area.style.height = `${this.area.scrollHeight}px`;
    const id = this.store.channelId;
    if (id) this.chat.sendTyping(id, this.area.value.length > 0);
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.updatePreview(), 600);
  }

  async updatePreview() {
    if (this.previewsOff) return;
    const url = firstUrl(this.area.value);
    if (url === this.previewFor) return;
    this.previewFor = url;
    this.preview = null;
    replace(this.previewBox);
    if (!url) return;
    try {
      const p = await this.api.linkPreview(url);
      if (this.previewFor !== url || (!p.title && !p.description)) return;
      this.preview = p;
      replace(this.previewBox, h('div.preview-draft', previewCard(p),
        h('button.icon', { type: 'button', 'aria-label': 'Remove preview', onclick: () => {
          this.preview = null;
          replace(this.previewBox);
        } }, icon('close'))));
    } catch (e) {
      if (e.status === 404 || e.status === 405) this.previewsOff = true;
    }
  }

  addFiles(files) {
    for (const file of files) {
      if (this.uploads.length >= MAX_FILES) {
        toast(`At most ${MAX_FILES} files per message.`, 'error');
        break;
      }
      const up = { file, progress: 0, attachment: null, error: null, handle: {} };
      this.uploads.push(up);
      this.api.upload(file, (p) => {
        up.progress = p;
        this.renderUploads();
      }, up.handle).then((attachment) => {
        up.attachment = attachment;
        up.progress = 1;
      }).catch((e) => {
        up.error = e.status === 404 ? 'Uploads are not available on this server.' : e.message;
      }).finally(() => this.renderUploads());
    }
    this.renderUploads();
  }

  renderUploads() {
    replace(this.uploadBox, this.uploads.map((up) => {
      const bar = h('progress', { max: 1, value: up.progress, 'aria-label': `Uploading ${up.file.name}` });
      return h('div.upload', { class: up.error ? 'failed' : up.attachment ? 'done' : null, 'data-testid': 'upload' },
        h('span.name', up.file.name), h('span.muted', fileSize(up.file.size)),
        up.error ? h('span.form-error', up.error) : up.attachment ? h('span.ok', '✓') : bar,
        h('button.icon', { type: 'button', 'aria-label': `Remove ${up.file.name}`, onclick: () => {
          if (up.handle.abort && !up.attachment) up.handle.abort();
          this.uploads = this.uploads.filter((u) => u !== up);
          this.renderUploads();
        } }, icon('close')));
    }));
    const busy = this.uploads.some((u) => !u.attachment && !u.error);
    this.sendButton.disabled = busy;
    this.sendButton.textContent = busy ? 'Uploading…' : 'Send';
  }

  submit() {
    const id = this.store.channelId;
    if (!id) return;
    if (this.uploads.some((u) => !u.attachment && !u.error)) {
      toast('Wait for the uploads to finish.');
      return;
    }
    const attachments = this.uploads.filter((u) => u.attachment).map((u) => u.attachment);
    const content = this.area.value;
    if (!content.trim() && attachments.length === 0) return;
    this.chat.send(id, {
      content,
      replyTo: this.reply ? this.reply.id : null,
      replied: this.reply ? this.reply.content : null,
      attachments,
      linkPreview: this.preview && firstUrl(content) === this.preview.url ? this.preview : null,
    });
    this.area.value = '';
    this.area.style.height = 'auto';
    this.uploads = [];
    this.renderUploads();
    this.preview = null;
    this.previewFor = null;
    replace(this.previewBox);
    this.replyTo(null);
    this.area.focus();
  }
}

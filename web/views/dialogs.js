// Modal dialogs (<dialog>): create and join teams, create channels, invitations (create, copy
// the link, list, revoke), forwarding, and confirmations.
import { copyText, fullTime, h, replace, toast } from '../dom.js';

// Opens a modal; `build(close)` returns its content. Resolves with the value passed to close().
function modal(title, build) {
  return new Promise((resolve) => {
    const dialog = h('dialog.modal', { 'aria-label': title });
    let result;
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    dialog.append(h('h3', title), build(close));
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector('input, textarea, select, button.primary');
    if (first) first.focus();
  });
}

// A form whose submit runs `action(values)`; errors are shown in the dialog.
function formDialog(title, fields, submitLabel, action) {
  return modal(title, (close) => {
    const error = h('p.form-error', { role: 'alert' });
    const submit = h('button.primary', { type: 'submit' }, submitLabel);
    return h('form.dialog-form', {
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        submit.disabled = true;
        try {
          close(await action());
        } catch (err) {
          error.textContent = err.message;
          submit.disabled = false;
        }
      },
    }, fields, error, h('div.buttons', h('button', { type: 'button', onclick: () => close(undefined) }, 'Cancel'), submit));
  });
}

export function confirmDialog(title, text, okLabel = 'OK') {
  return modal(title, (close) => h('div',
    h('p', text),
    h('div.buttons',
      h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
      h('button.primary', { type: 'button', 'data-testid': 'confirm', onclick: () => close(true) }, okLabel))))
    .then((v) => v === true);
}

export async function newTeamDialog(api, onCreated) {
  const name = h('input', { name: 'name', required: true, maxlength: 100, 'data-testid': 'team-name-input' });
  const description = h('input', { name: 'description', maxlength: 2000 });
  const team = await formDialog('Create a team', [h('label.field', 'Name', name), h('label.field', 'Description (optional)', description)],
    'Create team', async () => {
      const created = await api.createTeam(name.value, description.value);
      // Every team starts with a #general channel, as people expect.
      await api.createChannel(created.id, 'general', '').catch(() => null);
      return created;
    });
  if (team) await onCreated(team, true);
}

// Accepts a code or a whole invitation link.
export async function joinTeamDialog(api, onJoined) {
  const code = h('input', { name: 'code', required: true, placeholder: 'Invitation link or code', 'data-testid': 'join-code' });
  const team = await formDialog('Join a team', [h('label.field', 'Invitation', code)], 'Join team', () => {
    const value = code.value.trim();
    const m = value.match(/\/join-team\/([A-Za-z0-9]+)/);
    return api.joinTeam(m ? m[1] : value);
  });
  if (team) {
    await onJoined(team);
    toast(`You joined ${team.name}.`);
  }
}

export async function newChannelDialog(api, team, onCreated) {
  const name = h('input', { name: 'name', required: true, maxlength: 100, 'data-testid': 'channel-name-input' });
  const description = h('input', { name: 'description', maxlength: 2000 });
  const channel = await formDialog(`New channel in ${team.name}`,
    [h('label.field', 'Name', name), h('label.field', 'Description (optional)', description)],
    'Create channel', () => api.createChannel(team.id, name.value, description.value));
  if (channel) onCreated(channel);
}

// Create an invitation, copy its link, see and revoke the usable ones (§4).
export function inviteDialog(api, team, me) {
  return modal(`Invite people to ${team.name}`, (close) => {
    const uses = h('select', { name: 'max_uses' },
      h('option', { value: '' }, 'No limit'), h('option', { value: '1' }, '1 use'),
      h('option', { value: '5' }, '5 uses'), h('option', { value: '25' }, '25 uses'), h('option', { value: '100' }, '100 uses'));
    const hours = h('select', { name: 'expires_in_hours' },
      h('option', { value: '1' }, '1 hour'), h('option', { value: '24' }, '1 day'),
      h('option', { value: '168', selected: true }, '7 days'), h('option', { value: '720' }, '30 days'));
    const linkField = h('input.link-field', { readonly: true, 'data-testid': 'invite-link', 'aria-label': 'Invitation link' });
    const copy = h('button', { type: 'button', 'data-testid': 'copy-link', onclick: async () => {
      const ok = await copyText(linkField.value, linkField);
      copy.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(() => { copy.textContent = 'Copy link'; }, 2000);
    } }, 'Copy link');
    const result = h('div.invite-result', { hidden: true }, linkField, copy);
    const list = h('ul.invitations', { 'data-testid': 'invitations' });
    const error = h('p.form-error', { role: 'alert' });

    const refresh = async () => {
      try {
        const items = await api.invitations(team.id);
        replace(list, items.length ? items.map((inv) => h('li',
          h('code', inv.invite_code),
          h('span.muted', `${inv.uses}${inv.max_uses ? `/${inv.max_uses}` : ''} uses · expires ${fullTime(inv.expires_at)}`),
          h('button.small', {
            type: 'button',
            'data-testid': 'revoke',
            disabled: inv.created_by !== me.id && team.created_by !== me.id,
            onclick: async () => {
              try {
                await api.revokeInvitation(team.id, inv.invite_code);
                refresh();
              } catch (e) {
                error.textContent = e.message;
              }
            },
          }, 'Revoke'))) : h('li.muted', 'No active invitations.'));
      } catch (e) {
        error.textContent = e.message;
      }
    };
    refresh();

    const create = h('button.primary', {
      type: 'submit', 'data-testid': 'create-invite',
    }, 'Create link');
    return h('div',
      h('form.dialog-form.inline', {
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          try {
            const inv = await api.createInvitation(team.id, {
              expires_in_hours: Number(hours.value),
              max_uses: uses.value ? Number(uses.value) : null,
            });
            linkField.value = new URL(inv.invitation_url, location.origin).href;
            result.hidden = false;
            linkField.select();
            refresh();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      }, h('label.field', 'Expires after', hours), h('label.field', 'Uses', uses), create),
      result,
      error,
      h('h4', 'Active invitations'),
      list,
      h('div.buttons', h('button', { type: 'button', onclick: () => close() }, 'Done')));
  });
}

// Pick up to 10 channels of the team (§8.4 forward_message).
export function forwardDialog(store, teamId, message, forward) {
  return modal('Forward message', (close) => {
    const boxes = store.teamChannels(teamId).map((c) => {
      const box = h('input', { type: 'checkbox', value: String(c.id) });
      return h('label.check', box, (c.is_direct_message ? '@' : '# ') + store.channelLabel(c));
    });
    const error = h('p.form-error', { role: 'alert' });
    return h('form.dialog-form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const ids = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => Number(i.value));
        if (ids.length === 0 || ids.length > 10) {
          error.textContent = 'Choose between 1 and 10 channels.';
          return;
        }
        try {
          await forward(ids, message.content);
          close(true);
          toast(`Forwarded to ${ids.length} channel${ids.length > 1 ? 's' : ''}.`);
        } catch (err) {
          error.textContent = err.message;
        }
      },
    }, h('blockquote.quote', message.content), h('div.checks', boxes), error,
    h('div.buttons', h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'), h('button.primary', { type: 'submit' }, 'Forward')));
  });
}

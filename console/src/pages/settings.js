// #/settings: where the user is told about the day (Telegram, e-mail, the console's feed, and
// which events), saved with its version, with a test message and each channel's error
// (GET and PUT /options/notification-settings, docs/notifications.md); and the signal webhooks
// that let chart alerts enter and exit strategies (webhooks.js, docs/signals.md).

import { field, fill, h, uniqueId } from '../dom.js';
import { date, label, time } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';
import { webhooksSection } from '../webhooks.js';

export const title = 'Settings';

// shared_utils/notifications/models.py EventKind, in its order, with what each one sends.
const EVENTS = [
  ['FILLS', 'Fills', 'an entry or exit filled: legs, quantities, prices, P&L'],
  ['PARTIAL_RUNS', 'Partial runs', 'a run ended partial, failed or not entered, with the reason'],
  ['REJECTIONS', 'Rejections', 'a broker refused an order'],
  ['EXITS', 'Exits', 'a stop-loss, target, trailing stop or portfolio rule fired'],
  ['KILL_SWITCH', 'Kill switch', 'a kill switch pressed or re-armed'],
  ['LOGIN_NEEDED', 'Login needed', 'a broker account needs a login'],
];
// The channel's error line refreshes this long after a test message (the sender's answer).
const TEST_RECHECK_MS = 6_000;

function checkbox(text, { name, testid } = {}) {
  const box = h('input', { type: 'checkbox', id: uniqueId('check'), testid });
  const element = h('div', { class: 'field-check', 'data-field': name || null },
    h('label', { for: box.id, class: 'check' }, box, text));
  return { box, element };
}

function errorText(error) {
  if (!error) return '';
  return `Refused (${error.status}) on ${date(error.at)} at ${time(error.at)} IST: ${error.description}. `
    + 'Nothing more goes to it until it is changed or a test message gets through.';
}

function notificationsForm(api, { onDispose }) {
  let version = null;
  // An admin's `platform_alarms` has no control here: a save keeps what is stored (the PUT replaces).
  let platformAlarms = false;
  let disposed = false;
  let recheck = null;
  onDispose(() => { disposed = true; clearTimeout(recheck); });

  const telegramOn = checkbox('Send to Telegram', { name: 'telegram.enabled', testid: 'telegram-enabled' });
  const chatId = h('input', { type: 'text', autocomplete: 'off', testid: 'telegram-chat-id', placeholder: '512345678 or @channel' });
  const botToken = h('input', { type: 'password', autocomplete: 'off', testid: 'telegram-bot-token' });
  const tokenHint = h('small', { class: 'hint', testid: 'telegram-token-state' });
  const telegramError = h('p', { class: 'channel-error', role: 'alert', testid: 'telegram-error', hidden: true });
  const emailOn = checkbox('Send e-mails', { name: 'email.enabled', testid: 'email-enabled' });
  const address = h('input', { type: 'email', autocomplete: 'email', testid: 'email-address' });
  const emailError = h('p', { class: 'channel-error', role: 'alert', testid: 'email-error', hidden: true });
  const consoleOn = checkbox('Show in the console’s live feed', { name: 'console.enabled', testid: 'console-enabled' });
  const events = EVENTS.map(([value, text, hint]) => {
    const box = h('input', { type: 'checkbox', id: uniqueId('event'), value, testid: `event-${value}` });
    return { box, element: h('label', { for: box.id, class: 'check', title: hint }, box, text) };
  });

  const tokenField = field('Bot token', botToken, 'telegram.bot_token');
  tokenField.append(tokenHint);
  const saveButton = h('button', { type: 'submit', class: 'primary', testid: 'save-notifications', disabled: true }, 'Save');
  const testButton = h('button', { type: 'button', testid: 'test-notification', disabled: true }, 'Send a test message');
  const status = h('p', { role: 'status', class: 'note', testid: 'notifications-status' });
  const savedLine = h('p', { class: 'hint', testid: 'notifications-saved' });
  const form = h('form', { class: 'card', testid: 'notifications-form', novalidate: true },
    h('h2', {}, 'Notifications'),
    h('p', { class: 'hint' }, 'Where you are told about fills, rejections and exits. The bot token is stored in the platform and never shown again.'),
    h('fieldset', { testid: 'telegram-fieldset' },
      h('legend', {}, 'Telegram'),
      h('div', { class: 'row' }, telegramOn.element, field('Chat id', chatId, 'telegram.chat_id'), tokenField),
      telegramError),
    h('fieldset', { testid: 'email-fieldset' },
      h('legend', {}, 'E-mail'),
      h('div', { class: 'row' }, emailOn.element, field('Address', address, 'email.address')),
      emailError),
    h('fieldset', {},
      h('legend', {}, 'Console'),
      consoleOn.element),
    h('fieldset', { 'data-field': 'events', testid: 'events-fieldset' },
      h('legend', {}, 'Events to send'),
      h('div', { class: 'choices' }, events.map((each) => each.element))),
    savedLine,
    h('div', { class: 'actions' }, saveButton, testButton, status));

  function showChannelErrors(settings) {
    for (const [element, channel] of [[telegramError, settings.telegram], [emailError, settings.email]]) {
      element.textContent = errorText(channel?.error);
      element.hidden = !channel?.error;
    }
  }

  function show(settings) {
    version = settings.version;
    platformAlarms = Boolean(settings.platform_alarms);
    const { telegram, email } = settings;
    telegramOn.box.checked = Boolean(telegram?.enabled);
    chatId.value = telegram?.chat_id || '';
    botToken.value = '';
    botToken.placeholder = telegram?.bot_token_set ? 'stored: leave empty to keep it' : '123456789:AA…';
    tokenHint.textContent = telegram?.bot_token_set ? 'A token is stored.' : 'Needed the first time.';
    emailOn.box.checked = Boolean(email?.enabled);
    address.value = email?.address || '';
    consoleOn.box.checked = settings.console?.enabled !== false;
    const chosen = new Set(settings.events || []);
    events.forEach(({ box }) => { box.checked = chosen.has(box.value); });
    showChannelErrors(settings);
    savedLine.textContent = settings.updated_at
      ? `Version ${settings.version}, saved ${date(settings.updated_at)} at ${time(settings.updated_at)} IST.`
      : 'Never saved: the defaults are shown.';
    saveButton.disabled = false;
    testButton.disabled = false;
  }

  /** The PUT body: a channel without its chat id or address is no channel (null). */
  function read() {
    const body = {
      version,
      events: events.filter(({ box }) => box.checked).map(({ box }) => box.value),
      telegram: null,
      email: null,
      console: { enabled: consoleOn.box.checked },
      platform_alarms: platformAlarms,
    };
    if (chatId.value.trim() || botToken.value.trim() || telegramOn.box.checked) {
      body.telegram = { enabled: telegramOn.box.checked, chat_id: chatId.value.trim() };
      if (botToken.value.trim()) body.telegram.bot_token = botToken.value.trim();
    }
    if (address.value.trim() || emailOn.box.checked) {
      body.email = { enabled: emailOn.box.checked, address: address.value.trim() };
    }
    return body;
  }

  async function load() {
    const settings = await api.notificationSettings();
    if (!disposed) show(settings);
    return settings;
  }

  form.addEventListener('input', () => note(status, 'Unsaved changes.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    saveButton.disabled = true;
    note(status, 'Saving…');
    try {
      show(await api.updateNotificationSettings(read()));
      note(status, 'Saved.', 'ok');
    } catch (error) {
      if (error.status === 409) {
        await load().catch(() => {});
        note(status, 'Changed elsewhere meanwhile: the stored preferences are shown again; make your change once more.', 'error');
        return;
      }
      const placed = showErrors(form, error);
      note(status, `Not saved${placed ? ': see the marked fields' : ''}.`, 'error');
    } finally {
      saveButton.disabled = version === null;
    }
  });
  testButton.addEventListener('click', async () => {
    testButton.disabled = true;
    note(status, 'Sending a test message…');
    try {
      const report = await api.testNotification();
      const queued = report.queued.map(label).join(' and ');
      const skipped = (report.skipped || []).map((each) => `${label(each.channel)}: ${each.reason}`).join('; ');
      note(status, [queued ? `Test message on its way to ${queued}.` : 'No channel to send a test to.',
        skipped ? `Skipped ${skipped}.` : ''].filter(Boolean).join(' '), queued ? 'ok' : 'warn');
      clearTimeout(recheck);
      // A channel that refuses the message shows its error on GET a few seconds later.
      recheck = setTimeout(() => {
        api.notificationSettings().then((settings) => { if (!disposed) showChannelErrors(settings); }).catch(() => {});
      }, TEST_RECHECK_MS);
    } catch (error) {
      note(status, error.message, 'error');
    } finally {
      testButton.disabled = version === null;
    }
  });

  load().catch((error) => {
    if (!disposed) note(status, `The preferences could not be read: ${error.message}`, 'error');
  });
  return form;
}

export function mount(root, context) {
  const cleanups = [];
  const onDispose = (fn) => cleanups.push(fn);
  fill(root,
    h('h1', {}, 'Settings'),
    h('p', { class: 'subtitle' }, 'Notifications, and the webhooks chart alerts call to enter and exit your strategies.'),
    notificationsForm(context.api, { onDispose }),
    webhooksSection(context, { onDispose }));
  return () => cleanups.forEach((fn) => fn());
}

// Sign in. Local platform: paste the token `python -m local_platform token --user alice` prints.
// Deployed: Cognito's hosted UI (authorization code with PKCE, auth.js).

import { h, field, fill } from '../dom.js';

export const title = 'Sign in';

export function mount(root, { config, auth, reason, signedIn }) {
  const problem = h('p', { class: 'form-error', role: 'alert', testid: 'signin-error', hidden: !reason }, reason || '');
  if (auth.mode === 'cognito') {
    fill(root, h('section', { class: 'signin card' },
      h('h1', {}, 'Sign in'),
      problem,
      h('p', {}, 'You sign in on the platform’s sign-in page and come straight back here.'),
      h('button', {
        type: 'button', class: 'primary', testid: 'signin-cognito',
        onClick: () => auth.redirectToSignIn().catch((error) => { problem.hidden = false; problem.textContent = error.message; }),
      }, 'Sign in')));
    return null;
  }
  const tokenInput = h('textarea', { rows: 4, required: true, autocomplete: 'off', spellcheck: 'false', testid: 'signin-token' });
  const form = h('form', { class: 'signin card', testid: 'signin-form' },
    h('h1', {}, 'Sign in to the local platform'),
    problem,
    h('p', {}, 'Paste the token the platform’s token command prints (it also gives the user paper broker accounts):'),
    h('pre', { class: 'command' }, 'python -m local_platform --data-dir DIR token --user alice'),
    field('Token', tokenInput, 'token', 'Kept in this tab only (session storage).'),
    h('button', { type: 'submit', class: 'primary', testid: 'signin-submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const error = auth.acceptToken(tokenInput.value);
    if (error) {
      problem.hidden = false;
      problem.textContent = error;
      tokenInput.setAttribute('aria-invalid', 'true');
      return;
    }
    signedIn();
  });
  fill(root, form);
  tokenInput.focus();
  return null;
}

// auth.js: a bearer token for a server started with --auth-token. A
// browser cannot send one with a page load, so the server gives the UI's
// page and scripts without it (they hold no data) and guards the API; the
// first API call answered 401 shows a field for the token, kept in this
// tab's sessionStorage (gone when the tab closes) and sent as
// "Authorization: Bearer" with every API call from then on. With
// --basic-auth the browser asks for the user and password itself and
// sends them with the API calls: nothing to do here.
const KEY = 'strata.token';

export function token() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return ''; // storage refused (a sandboxed frame): no token
  }
}

// fetch with the token, when there is one and the call sets no Authorization
export function authFetch(input, init = {}) {
  const t = token();
  if (!t) return fetch(input, init);
  const headers = new Headers(init.headers || {});
  if (!headers.has('Authorization')) headers.set('Authorization', `Bearer ${t}`);
  return fetch(input, { ...init, headers });
}

// The bar asking for the token, shown once above the view; a token given
// reloads the page, so every view and the editor's completion start with it.
export function askToken(reason) {
  if (document.querySelector('[data-testid=login]')) return;
  const input = document.createElement('input');
  input.type = 'password';
  input.placeholder = 'bearer token';
  input.autocomplete = 'current-password';
  input.setAttribute('data-testid', 'login-token');
  const form = document.createElement('form');
  form.className = 'login';
  form.setAttribute('data-testid', 'login');
  const msg = document.createElement('span');
  msg.textContent = token() ? `the server refused the token (${reason}): ` : `this server wants a token (${reason}): `;
  const btn = document.createElement('button');
  btn.type = 'submit';
  btn.className = 'primary';
  btn.textContent = 'Sign in';
  btn.setAttribute('data-testid', 'login-submit');
  form.append(msg, input, btn);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    try {
      sessionStorage.setItem(KEY, input.value.trim());
    } catch { /* storage refused: nothing kept */ }
    location.reload();
  });
  const main = document.getElementById('app');
  main.parentNode.insertBefore(form, main);
  input.focus();
}

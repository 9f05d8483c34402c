/* global document, navigator, setTimeout */
// Portico portal: submits SAML POST forms at once, and filters the lists as you type.
// Everything here is optional: without JavaScript the pages still work.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  const post = document.querySelector('form[data-auto-submit]');
  if (post) {
    post.submit();
    return;
  }

  // Copy buttons: each names the element whose text it copies (hidden until a script can copy).
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener('click', () => {
      navigator.clipboard.writeText(source.textContent).then(
        () => {
          button.textContent = 'Copied';
          setTimeout(() => (button.textContent = 'Copy'), 2000);
        },
        () => (button.textContent = 'Select and copy by hand'),
      );
    });
  }

  const input = document.getElementById('q');
  if (!input) return;
  const accounts = [...document.querySelectorAll('li.account')];
  const apps = [...document.querySelectorAll('li.app')];
  const noMatch = document.querySelector('.no-match');

  const filter = () => {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    for (const account of accounts) {
      const own = account.dataset.search.includes(q);
      let roles = 0;
      for (const role of account.querySelectorAll('li.role')) {
        const visible = q === '' || own || role.dataset.search.includes(q);
        role.hidden = !visible;
        if (visible) roles += 1;
      }
      account.hidden = roles === 0;
      if (!account.hidden) shown += 1;
      if (q !== '' && !account.hidden) account.querySelector('details').open = true;
    }
    for (const app of apps) {
      app.hidden = q !== '' && !app.dataset.search.includes(q);
      if (!app.hidden) shown += 1;
    }
    for (const section of document.querySelectorAll('section')) {
      const items = [...section.querySelectorAll('li.account, li.app')];
      if (items.length > 0) section.hidden = items.every((item) => item.hidden);
    }
    if (noMatch) noMatch.hidden = shown > 0 || accounts.length + apps.length === 0;
  };
  input.addEventListener('input', filter);
  // The server already filtered for ?q=; the search button is for browsers without JavaScript.
  const button = document.querySelector('form.search button');
  if (button) button.hidden = true;
  input.form.addEventListener('submit', (event) => {
    event.preventDefault();
    filter();
  });
});

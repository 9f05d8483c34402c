/* global document, window, fetch */
// Passkeys and security keys on the second-step pages, with @simplewebauthn/browser (served
// beside this file). Without JavaScript or WebAuthn the button stays hidden and the code forms
// remain. Text goes into the page through textContent only.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  var button = document.getElementById('passkey');
  var alertBox = document.getElementById('mfa-error');
  if (!button) return;
  if (!W || !W.browserSupportsWebAuthn()) return;
  var section = document.getElementById('passkey-section');
  if (section) section.hidden = false;

  function post(path, body) {
    return fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Error((json.error && json.error.message) || 'The request failed (' + response.status + ').');
        return json;
      });
    });
  }

  function showRecoveryCodes(codes, next) {
    var main = document.querySelector('main');
    while (main.firstChild) main.removeChild(main.firstChild);
    var h1 = document.createElement('h1');
    h1.textContent = 'Save your recovery codes';
    var p = document.createElement('p');
    p.textContent = 'If you lose your device, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.';
    var list = document.createElement('ul');
    list.id = 'recovery-codes';
    list.className = 'codes';
    codes.forEach(function (code) { var li = document.createElement('li'); li.textContent = code; list.appendChild(li); });
    var link = document.createElement('a');
    link.id = 'continue';
    link.className = 'button';
    link.href = next;
    link.textContent = 'I saved them — continue';
    main.append(h1, p, list, link);
    document.title = 'Save your recovery codes · Portico';
    link.focus();
  }

  button.addEventListener('click', function () {
    var csrf = button.getAttribute('data-csrf');
    var returnTo = button.getAttribute('data-return-to');
    button.disabled = true;
    alertBox.textContent = '';
    var done;
    if (button.getAttribute('data-action') === 'authenticate') {
      done = post('/mfa/webauthn/authenticate/options', { csrf: csrf }).then(function (start) {
        return W.startAuthentication({ optionsJSON: start.options }).then(function (response) {
          return post('/mfa/webauthn/authenticate', { csrf: csrf, ticket: start.ticket, response: response, returnTo: returnTo });
        });
      }).then(function (result) { window.location.assign(result.next); });
    } else {
      var nameField = document.getElementById('passkey-name');
      done = post('/mfa/webauthn/register/options', { csrf: csrf }).then(function (start) {
        return W.startRegistration({ optionsJSON: start.options }).then(function (response) {
          return post('/mfa/webauthn/register', { csrf: csrf, ticket: start.ticket, response: response, returnTo: returnTo, name: nameField ? nameField.value : '' });
        });
      }).then(function (result) {
        if (result.recoveryCodes) showRecoveryCodes(result.recoveryCodes, result.next);
        else window.location.assign(result.next);
      });
    }
    done.catch(function (error) {
      alertBox.textContent = (error && error.message) || String(error);
      button.disabled = false;
    });
  });
})();

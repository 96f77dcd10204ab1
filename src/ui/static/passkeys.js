// Passkeys on Alias's pages (issue 15 §1): "Use a passkey", the e-mail field's
// passkey autofill (conditional mediation) and "Add a passkey" on /account. Served by
// Alias after the @simplewebauthn/browser bundle (global SimpleWebAuthnBrowser); reads
// what it needs from data- attributes, since the CSP allows no inline script. Without
// JavaScript, or without WebAuthn, the passkey parts stay hidden and the forms work as ever.
(function () {
  'use strict';
  var W = window.SimpleWebAuthnBrowser;
  if (!W || !W.browserSupportsWebAuthn()) return;

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) return data;
        var e = new Error(data.error_description || 'Alias answered ' + res.status);
        e.status = res.status;
        e.code = data.error;
        throw e;
      });
    });
  }
  function show(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }
  function message(e) {
    if (e && e.name === 'NotAllowedError') return 'The passkey prompt was closed or timed out. Nothing was changed.';
    if (e && e.code === 'interaction_required') return 'Please confirm your password first, then try again.';
    return 'That did not work: ' + (e && e.message ? e.message : 'unknown error') + '.';
  }

  var signin = document.getElementById('passkey-signin');
  if (signin) {
    var csrf = signin.getAttribute('data-csrf');
    var interaction = signin.getAttribute('data-interaction') || undefined;
    var error = document.getElementById('passkey-error');
    var button = document.getElementById('passkey-button');
    var run = function (autofill) {
      return post('/api/passkeys/authenticate/options', { csrf: csrf })
        .then(function (options) { return W.startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill }); })
        .then(function (response) {
          return post('/api/passkeys/authenticate/verify', { csrf: csrf, response: response, interaction: interaction });
        })
        .then(function (data) { window.location.assign(data.location); });
    };
    signin.hidden = false;
    button.addEventListener('click', function () {
      show(error, '');
      button.disabled = true;
      run(false).catch(function (e) {
        button.disabled = false;
        // A newer ceremony replaced this one: not an error.
        if (!(e && e.name === 'AbortError')) show(error, message(e));
      });
    });
    // Conditional mediation: the browser offers passkeys in the e-mail field's autofill.
    W.browserSupportsWebAuthnAutofill().then(function (supported) {
      if (!supported) return;
      run(true).catch(function (e) {
        // Cancelled or replaced by the button: quiet. Alias refusing the passkey: say so.
        if (e && e.status) show(error, message(e));
      });
    });
  }

  var add = document.getElementById('passkey-add');
  if (add) {
    var addCsrf = add.getAttribute('data-csrf');
    var addButton = document.getElementById('passkey-add-button');
    var nameInput = document.getElementById('passkey-name');
    var addError = document.getElementById('passkey-add-error');
    add.hidden = false;
    addButton.addEventListener('click', function () {
      show(addError, '');
      addButton.disabled = true;
      post('/api/passkeys/register/options', { csrf: addCsrf })
        .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
        .then(function (response) {
          return post('/api/passkeys/register/verify', { csrf: addCsrf, response: response, name: nameInput.value });
        })
        .then(function () { window.location.assign('/account?passkey=added#passkeys'); })
        .catch(function (e) {
          addButton.disabled = false;
          show(addError, message(e));
        });
    });
  }
})();

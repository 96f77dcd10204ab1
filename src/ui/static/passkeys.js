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
    if (e && e.code === 'interaction_required') return 'Please confirm it is you first (reload the page), then try again.';
    if (e && e.name === 'InvalidStateError') return 'This device already has a passkey for this account.';
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

  // One passkey prompt bound to a button: an assertion (re-authentication, step-up) or a
  // new credential (account page, "two-step sign-in needed", sign-up, reset), then on to
  // where Alias says.
  function ceremony(id, start) {
    var box = document.getElementById(id);
    if (!box) return;
    var button = document.getElementById(id + '-button');
    var err = document.getElementById(id + '-error');
    box.hidden = false;
    button.addEventListener('click', function () {
      show(err, '');
      button.disabled = true;
      start(box)
        .then(function (data) { window.location.assign(data.location); })
        .catch(function (e) {
          button.disabled = false;
          show(err, message(e));
        });
    });
  }
  function assertion(verifyUrl, fields) {
    return post('/api/passkeys/authenticate/options', { csrf: fields.csrf })
      .then(function (options) { return W.startAuthentication({ optionsJSON: options }); })
      .then(function (response) { fields.response = response; return post(verifyUrl, fields); });
  }
  function attr(box, name) { return box.getAttribute('data-' + name) || undefined; }
  function value(id) { var el = document.getElementById(id); return el ? el.value : undefined; }

  // Re-authentication before a sensitive change (/account/reauth).
  ceremony('passkey-reauth', function (box) {
    return assertion('/api/passkeys/reauth/verify', { csrf: attr(box, 'csrf'), next: attr(box, 'next') });
  });
  // Step-up for an app asking for urn:alias:acr:mfa.
  ceremony('passkey-step-up', function (box) {
    return assertion('/api/passkeys/step-up/verify', { csrf: attr(box, 'csrf'), interaction: attr(box, 'interaction') });
  });
  // A new passkey for the signed-in person (/account, or "two-step sign-in needed").
  ceremony('passkey-add', function (box) {
    var csrf = attr(box, 'csrf');
    return post('/api/passkeys/register/options', { csrf: csrf })
      .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
      .then(function (response) {
        return post('/api/passkeys/register/verify', { csrf: csrf, response: response, name: value('passkey-name'),
          interaction: attr(box, 'interaction') });
      });
  });
  // Sign-up with a passkey instead of a password: the address (and nickname) come from the form.
  ceremony('passkey-signup', function (box) {
    var fields = { csrf: attr(box, 'csrf'), email: value('email'), nickname: value('nickname'), interaction: attr(box, 'interaction') };
    return post('/api/passkeys/signup/options', fields)
      .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
      .then(function (response) { fields.response = response; return post('/api/passkeys/signup/verify', fields); });
  });
  // A reset link adds a new passkey instead of setting a password.
  ceremony('passkey-reset', function (box) {
    var fields = { csrf: attr(box, 'csrf'), token: attr(box, 'token') };
    return post('/api/passkeys/reset/options', fields)
      .then(function (options) { return W.startRegistration({ optionsJSON: options }); })
      .then(function (response) { fields.response = response; return post('/api/passkeys/reset/verify', fields); });
  });
})();

// Moved to http/login_form.ts (a helper shared by several page endpoints, not an
// endpoint). Re-exported for account.ts and device.ts, owned elsewhere, until they
// import it from there.
export { checkLoginForm, type LoginFormError } from '../http/login_form.js';

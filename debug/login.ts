// The visualizer's sign-in: trades an admin's username and password, or the debug token, for the
// `aw_debug` cookie (HttpOnly, SameSite=Strict, path /debug), then loads the page.
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

$('switch')?.addEventListener('click', () => {
  void fetch('/debug/session', { method: 'DELETE' }).then(() => location.reload());
});

$<HTMLFormElement>('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $<HTMLInputElement>('token').value.trim();
  const body = token ? { token } : { username: $<HTMLInputElement>('username').value.trim(), password: $<HTMLInputElement>('password').value };
  $('signin-error').textContent = '';
  void fetch('/debug/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (res) => {
    if (res.ok) return location.reload();
    const b = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    $('signin-error').textContent = b.error?.message ?? `HTTP ${res.status}`;
  });
});

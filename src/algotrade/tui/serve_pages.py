"""The pages of ``algotrade tui --serve``: sign-in, the terminal page, their script and styles.

textual-serve's own page loads "Roboto Mono" from fonts.googleapis.com and uses inline event
handlers; these pages load only what the server itself serves (the font files ship in the
textual-serve package), so the TUI works with no internet and under a strict
Content-Security-Policy (no inline script).
"""

from __future__ import annotations

from html import escape

# Served at /tui.css and /tui.js by the server (same origin, allowed by the CSP).
STYLES = """
@font-face { font-family: "Roboto Mono"; font-style: normal; font-weight: 100 700;
  src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }
@font-face { font-family: "Roboto Mono"; font-style: italic; font-weight: 100 700;
  src: url("/static/fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }
html, body { margin: 0; height: 100%; background: #0c181f; color: rgba(255,255,255,.95);
  font-family: "Roboto Mono", Menlo, monospace; }
.dialog-container { position: absolute; inset: 0; display: flex; align-items: center;
  justify-content: center; z-index: 10; }
.shade { position: absolute; inset: 0; background: #0c181f; }
.intro { position: relative; z-index: 20; min-width: 360px; max-width: 640px; padding: 32px;
  background: #12232d; text-align: center; }
.intro h1 { font-size: 18px; font-weight: 600; margin: 0 0 16px; }
.intro p { font-size: 14px; margin: 8px 0; }
.intro .error { color: #ff8a80; }
.intro input { width: 100%; box-sizing: border-box; padding: 10px; margin: 8px 0;
  font: inherit; background: #0c181f; color: inherit; border: 1px solid #3d5a6c; }
button { padding: 12px 28px; margin: 12px 8px 0; border: none; background: #5e0ba7;
  color: rgba(255,255,255,.95); font: inherit; cursor: pointer; }
button:hover { background: #ac5af4; }
body.-first-byte .intro-dialog { display: none; }
.textual-terminal { width: 100vw; height: 100vh; opacity: 0; transition: opacity .3s ease-out; }
body.-first-byte .textual-terminal { opacity: 1; }
.closed-dialog { display: none; }
body.-closed .closed-dialog { display: flex; }
"""

SCRIPT = """
// The "Restart" button of the ended-session dialog reloads the page (a new TUI process).
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-action=restart]")) {
    button.addEventListener("click", () => window.location.reload());
  }
});
"""

_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<link rel="stylesheet" href="/tui.css">
{extra}
</head>
"""


def signin_page(title: str, message: str = "") -> str:
    """The sign-in form: the key is posted to /signin in the body, never in a URL."""
    error = f'<p class="error" data-testid="signin-error">{escape(message)}</p>' if message else ""
    return (
        _HEAD.format(title=escape(title), extra="")
        + f"""<body>
<div class="dialog-container"><div class="shade"></div>
<form class="intro" method="post" action="/signin" data-testid="signin-form">
<h1>{escape(title)}</h1>
<p>Sign in with an API key of the daemon.<br>
A trader key opens a read-only TUI.</p>
{error}
<input type="password" name="api_key" autocomplete="off" autofocus
  placeholder="API key" aria-label="API key" data-testid="api-key">
<button type="submit" data-testid="signin-submit">Sign in</button>
</form></div>
</body></html>
"""
    )


def terminal_page(title: str, websocket_url: str, font_size: int) -> str:
    """The page textual.js turns into a terminal connected to ``websocket_url``."""
    extra = '<script src="/static/js/textual.js"></script>\n<script src="/tui.js"></script>'
    return (
        _HEAD.format(title=escape(title), extra=extra)
        + f"""<body>
<div class="dialog-container intro-dialog"><div class="shade"></div>
<div class="intro"><p>{escape(title)}</p><p>Starting…</p></div></div>
<div class="dialog-container closed-dialog"><div class="shade"></div>
<div class="intro" data-testid="session-ended"><p>Session ended.</p>
<button type="button" data-action="restart">Restart</button>
<form method="post" action="/signout" style="display:inline">
<button type="submit" data-testid="signout">Sign out</button></form>
</div></div>
<div id="terminal" class="textual-terminal" data-testid="terminal"
  data-session-websocket-url="{escape(websocket_url)}" data-font-size="{font_size}"></div>
</body></html>
"""
    )

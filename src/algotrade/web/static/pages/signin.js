// Sign-in: the API key is sent once to POST /api/session and never kept by the page; the
// daemon answers with an HttpOnly session cookie that scripts cannot read.

export async function render(root, ctx) {
  const { h } = ctx;
  const input = h("input", {
    type: "password",
    name: "api_key",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "API key",
    required: true,
    "aria-label": "API key",
    "data-testid": "signin-key",
  });
  const button = h("button", { type: "submit", class: "btn primary", text: "Sign in", "data-testid": "signin-submit" });
  const message = h("div", { class: "message", role: "alert", "data-testid": "signin-message" });
  let countdown = null;

  const waitThenEnable = (seconds) => {
    clearInterval(countdown);
    let left = Math.max(1, seconds);
    const tick = () => {
      if (left <= 0) {
        clearInterval(countdown);
        button.disabled = false;
        message.textContent = "You may try again.";
        return;
      }
      message.textContent = `Too many attempts: retry in ${left} s.`;
      left -= 1;
    };
    button.disabled = true;
    tick();
    countdown = setInterval(tick, 1000);
  };

  const form = h(
    "form",
    {
      "data-testid": "signin-form",
      on: {
        submit: async (event) => {
          event.preventDefault();
          const key = input.value.trim();
          if (!key) {
            message.textContent = "Enter an API key.";
            return;
          }
          button.disabled = true;
          message.textContent = "";
          try {
            const answer = await ctx.api("/api/session", { method: "POST", body: { api_key: key } });
            input.value = "";
            ctx.signedIn(answer);
          } catch (err) {
            if (err.status === 429) {
              waitThenEnable(err.retryAfter ?? 30);
              return;
            }
            button.disabled = false;
            message.textContent =
              err.status === 401 ? "Wrong API key: no key of this daemon matches it." : `Sign-in failed: ${err.message}`;
            input.select();
          }
        },
      },
    },
    h("label", { text: "API key (admin or trader)" }),
    input,
    button,
    message,
  );
  root.append(
    h(
      "div",
      { class: "signin panel", "data-testid": "signin" },
      h("h1", { text: "Sign in to algo-trade" }),
      h("p", { class: "muted", text: "The key is exchanged for a session cookie; this page does not store it." }),
      form,
    ),
  );
  input.focus();
  return () => clearInterval(countdown);
}

// "New bot" (admins only): a form generated from the BotConfig schema (GET /openapi.json) and
// the chosen strategy's params_schema (GET /api/strategies), sent as POST /api/bots. The API's
// 422 message is shown next to the field it names. The new bot is created stopped; its row
// arrives in the bots table over the WebSocket like any other change.

import { schemaForm, showApiError, showLocalErrors } from "../lib/schema_form.js";

function resolver(root) {
  return (ref) => {
    const path = ref.replace(/^#\//, "").split("/");
    let node = root;
    for (const part of path) node = node && node[part];
    return node || {};
  };
}

/** createPanel(ctx, {onCreated(status), onClose()}) → {element, focus()} */
export function createPanel(ctx, { onCreated = () => {}, onClose = () => {} } = {}) {
  const { h } = ctx;
  const body = h("div", {}, h("p", { class: "muted", text: "Loading the form…" }));
  const element = h(
    "div",
    { class: "panel", "data-testid": "create-panel" },
    h("div", { class: "toolbar" }, h("h2", { text: "New bot" }), h("span", { class: "spacer" }), h("button", { type: "button", class: "btn small", text: "Close", "data-testid": "create-close", on: { click: onClose } })),
    body,
  );

  const build = (strategies, openapi) => {
    ctx.clear(body);
    // FastAPI names the request-side schema "BotConfig-Input" when input and output differ.
    const schemas = openapi.components?.schemas || {};
    const botSchema = schemas["BotConfig-Input"] || schemas.BotConfig;
    if (!botSchema) {
      body.append(h("p", { class: "neg", text: "The daemon's OpenAPI document has no BotConfig schema." }));
      return;
    }
    const names = strategies.map((s) => s.name);
    const schema = names.length
      ? { ...botSchema, properties: { ...botSchema.properties, strategy: { ...botSchema.properties.strategy, enum: names } } }
      : botSchema;
    const general = schemaForm(ctx, schema, {}, { resolve: resolver(openapi), omit: ["params"] });
    const paramsBox = h("div", { class: "form-grid", "data-testid": "create-params" });
    let params = null;
    const buildParams = (name) => {
      ctx.clear(paramsBox);
      const info = strategies.find((s) => s.name === name);
      paramsBox.append(h("div", { class: "form-section", text: `Strategy parameters${info ? `: ${info.name}` : ""}` }));
      const ps = (info && info.params_schema) || { properties: {} };
      params = schemaForm(ctx, ps, {}, { prefix: "params.", resolve: resolver(ps) });
      if (info && info.description) paramsBox.append(h("div", { class: "hint", text: info.description }));
      paramsBox.append(...params.rows);
    };
    const strategyField = general.fields.find((f) => f.name === "strategy");
    buildParams(strategyField ? strategyField.input.value : "");
    if (strategyField) strategyField.input.addEventListener("change", () => buildParams(strategyField.input.value));

    const message = h("div", { class: "field-error", role: "alert", "data-testid": "create-error" });
    const submit = h("button", { type: "submit", class: "btn primary", text: "Create bot", "data-testid": "create-submit" });
    const form = h(
      "form",
      {
        "data-testid": "create-form",
        on: {
          submit: async (event) => {
            event.preventDefault();
            message.textContent = "";
            const a = general.read();
            const b = params.read();
            if (!showLocalErrors([general, params], [a, b], message)) return;
            submit.disabled = true;
            try {
              const created = await ctx.api("/api/bots", { method: "POST", body: { ...a.values, params: b.values } });
              ctx.toast(`Created ${a.values.bot_id} (stopped).`, "ok");
              onCreated(created);
            } catch (err) {
              showApiError(err, [general, params], message);
            } finally {
              submit.disabled = false;
            }
          },
        },
      },
      h("div", { class: "form-grid", "data-testid": "create-general" }, ...general.rows),
      paramsBox,
      h("div", { class: "toolbar" }, submit, h("span", { class: "muted", text: "The bot is created stopped: start it from its row." })),
      message,
    );
    body.append(form);
    const first = general.fields.find((f) => f.name === "bot_id");
    if (first) first.input.focus();
  };

  Promise.all([ctx.api("/api/strategies", { signal: ctx.signal }), ctx.api("/openapi.json", { signal: ctx.signal })])
    .then(([strategies, openapi]) => build(strategies || [], openapi || {}))
    .catch((err) => {
      if (err.name === "AbortError") return;
      ctx.clear(body);
      body.append(h("p", { class: "neg", text: `New bot form: ${err.message}` }));
    });
  return { element };
}

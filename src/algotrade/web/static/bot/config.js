// The bot's config: a form generated from the BotConfig schema (GET /openapi.json) and the
// strategy's params_schema (GET /api/strategies); PATCH /api/bots/{id}/config with the fields
// that changed; the API's 422 message is shown next to the field it names. Admins only; a
// trader sees the config read-only.

import { schemaForm, showApiError, showLocalErrors } from "../lib/schema_form.js";

const EDITABLE_STATES = new Set(["stopped", "error"]);

function resolver(root) {
  return (ref) => {
    const path = ref.replace(/^#\//, "").split("/");
    let node = root;
    for (const part of path) node = node && node[part];
    return node || {};
  };
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function configPanel(ctx, botId, initial) {
  const { h } = ctx;
  const element = h("div", { class: "panel", "data-testid": "config-panel" }, h("h2", { text: "Config" }));
  const body = h("div");
  element.append(body);
  let config = initial;
  let state = "stopped";
  let save = null;
  let hint = null;

  if (!ctx.canWrite) {
    const rows = Object.entries(config).map(([k, v]) =>
      h("tr", {}, h("th", { text: k }), h("td", { class: "mono", text: typeof v === "object" ? JSON.stringify(v) : String(v) })),
    );
    body.append(h("div", { class: "table-wrap short" }, h("table", { "data-testid": "config-readonly" }, h("tbody", {}, rows))));
    return { element, setState() {} };
  }

  const load = async () => {
    const [strategies, openapi] = await Promise.all([ctx.api("/api/strategies"), ctx.api("/openapi.json")]);
    return { strategies: strategies || [], openapi: openapi || {} };
  };

  const build = ({ strategies, openapi }) => {
    ctx.clear(body);
    // FastAPI names the request-side schema "BotConfig-Input" when input and output differ.
    const schemas = openapi.components?.schemas || {};
    const botSchema = schemas["BotConfig-Input"] || schemas.BotConfig;
    if (!botSchema) {
      body.append(h("p", { class: "neg", text: "The daemon's OpenAPI document has no BotConfig schema." }));
      return;
    }
    const resolve = resolver(openapi);
    const names = strategies.map((s) => s.name);
    const known = names.includes(config.strategy);
    // The strategy becomes a choice of the daemon's strategies (a .py path stays free text).
    const schema = known
      ? { ...botSchema, properties: { ...botSchema.properties, strategy: { ...botSchema.properties.strategy, enum: names } } }
      : botSchema;
    const general = schemaForm(ctx, schema, config, { resolve, omit: ["params"], disabled: ["bot_id"] });
    const paramsBox = h("div", { class: "form-grid", "data-testid": "config-params" });
    let params = null;
    const buildParams = (strategyName, values) => {
      ctx.clear(paramsBox);
      const info = strategies.find((s) => s.name === strategyName);
      paramsBox.append(h("div", { class: "form-section", text: `Strategy parameters${info ? `: ${info.name}` : ""}` }));
      if (!info) {
        params = schemaForm(ctx, { properties: { params: { type: "object", title: "params (JSON)" } } }, { params: values }, {});
        params.isRaw = true;
      } else {
        const ps = info.params_schema || {};
        params = schemaForm(ctx, ps, values, { prefix: "params.", resolve: resolver(ps) });
        if (info.description) paramsBox.append(h("div", { class: "hint", text: info.description }));
      }
      paramsBox.append(...params.rows);
    };
    buildParams(config.strategy, config.params || {});
    const strategyField = general.fields.find((f) => f.name === "strategy");
    if (strategyField && strategyField.input.tagName === "SELECT") {
      strategyField.input.addEventListener("change", () => {
        const name = strategyField.input.value;
        buildParams(name, name === config.strategy ? config.params : {});
      });
    }
    const message = h("div", { class: "field-error", role: "alert", "data-testid": "config-error" });
    hint = h("span", { class: "muted", "data-testid": "config-hint" });
    save = h("button", { type: "submit", class: "btn primary", text: "Save config", "data-testid": "config-save" });
    const form = h(
      "form",
      {
        "data-testid": "config-form",
        on: {
          submit: async (event) => {
            event.preventDefault();
            message.textContent = "";
            const a = general.read();
            const b = params.read();
            const paramValues = params.isRaw ? b.values.params : b.values;
            if (!showLocalErrors([general, params], [a, b], message)) return;
            const patch = {};
            for (const k of a.changed) if (k !== "bot_id" && k in a.values && !same(a.values[k], config[k])) patch[k] = a.values[k];
            if (params.isRaw) {
              if (b.changed.length) patch.params = paramValues ?? {};
            } else if (b.changed.length || patch.strategy) {
              // Edited parameters on top of the stored ones (a new strategy: its form's values).
              const kept = patch.strategy ? {} : { ...config.params };
              for (const k of patch.strategy ? Object.keys(b.values) : b.changed) {
                if (k in b.values) kept[k] = b.values[k];
                else delete kept[k];
              }
              patch.params = kept;
            }
            if (!Object.keys(patch).length) {
              ctx.toast("Nothing changed.", "info");
              return;
            }
            save.disabled = true;
            try {
              config = await ctx.api(`/api/bots/${encodeURIComponent(botId)}/config`, { method: "PATCH", body: patch });
              ctx.toast(`Saved the config of ${botId}.`, "ok");
              build({ strategies, openapi });
            } catch (err) {
              showApiError(err, [general, params], message);
            } finally {
              if (save) save.disabled = !EDITABLE_STATES.has(state);
            }
          },
        },
      },
      h("div", { class: "form-grid", "data-testid": "config-general" }, ...general.rows),
      paramsBox,
      h("div", { class: "toolbar" }, save, hint),
      message,
    );
    body.append(form);
    setState(state);
  };

  const setState = (next) => {
    state = next;
    if (!save) return;
    const editable = EDITABLE_STATES.has(state);
    save.disabled = !editable;
    hint.textContent = editable ? "" : `The bot is ${state}: stop it to change its config.`;
  };

  body.append(h("p", { class: "muted", text: "Loading the config form…" }));
  load()
    .then(build)
    .catch((err) => {
      ctx.clear(body);
      body.append(h("p", { class: "neg", text: `Config form: ${err.message}` }));
    });
  return { element, setState };
}

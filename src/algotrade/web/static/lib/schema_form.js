// Forms generated from JSON Schema (pydantic's model_json_schema / OpenAPI components): one row
// per property with a label, an input fitting its type, the bounds as a hint and a place for the
// API's error message about that field. No hand-written form per strategy.
//
//   const form = schemaForm(ctx, schema, values, {prefix: "params.", resolve, omit: ["bot_id"]});
//   container.append(...form.rows);
//   const {values, errors, changed} = form.read();  // errors: {path: message}
//   form.showErrors({"params.fast": "Input should be greater than 0"});
//
// Decimal fields (pydantic: number|string) stay text and are sent as typed: money is exact.

function resolveRef(schema, resolve) {
  let s = schema || {};
  for (let i = 0; i < 8 && s.$ref; i += 1) s = { ...resolve(s.$ref), ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) };
  if (Array.isArray(s.allOf) && s.allOf.length === 1) s = { ...resolveRef(s.allOf[0], resolve), ...s, allOf: undefined };
  return s;
}

/** Words a field takes besides its typed values (``Literal["first_close"] | Decimal``: the
 * ``const`` variants of an anyOf). */
export function fieldWords(schema, resolve) {
  const s = resolveRef(schema, resolve);
  return (s.anyOf || s.oneOf || []).map((v) => resolveRef(v, resolve)).filter((v) => typeof v.const === "string").map((v) => v.const);
}

/** "integer" | "number" | "decimal" | "boolean" | "enum" | "object" | "array" | "string" */
export function fieldKind(schema, resolve) {
  const s = resolveRef(schema, resolve);
  if (Array.isArray(s.enum)) return "enum";
  const variants = (s.anyOf || s.oneOf || []).map((v) => resolveRef(v, resolve)).filter((v) => v.type !== "null");
  if (variants.length) {
    const types = new Set(variants.map((v) => v.type));
    if (types.has("number") && types.has("string")) return "decimal";
    if (variants.length === 1) return fieldKind(variants[0], resolve);
    if (types.size === 1) return fieldKind(variants[0], resolve);
    return "json";
  }
  if (s.type === "string" && (s.format === "decimal" || /^\^?-?\\?d/.test(s.pattern || ""))) return "decimal";
  return { integer: "integer", number: "number", boolean: "boolean", object: "object", array: "array", string: "string" }[s.type] || "json";
}

function boundsText(s, resolve) {
  const r = resolveRef(s, resolve);
  const parts = [];
  const src = [r, ...(r.anyOf || []).map((v) => resolveRef(v, resolve))];
  for (const v of src) {
    if (v.minimum !== undefined) parts.push(`≥ ${v.minimum}`);
    if (v.exclusiveMinimum !== undefined) parts.push(`> ${v.exclusiveMinimum}`);
    if (v.maximum !== undefined) parts.push(`≤ ${v.maximum}`);
    if (v.exclusiveMaximum !== undefined) parts.push(`< ${v.exclusiveMaximum}`);
  }
  return [...new Set(parts)].join(", ");
}

function nullable(schema, resolve) {
  const s = resolveRef(schema, resolve);
  return (s.anyOf || s.oneOf || []).some((v) => resolveRef(v, resolve).type === "null");
}

export function schemaForm(ctx, schema, values = {}, options = {}) {
  const { h } = ctx;
  const resolve = options.resolve || (() => ({}));
  const prefix = options.prefix || "";
  const omit = new Set(options.omit || []);
  const disabled = new Set(options.disabled || []);
  const required = new Set(schema.required || []);
  const fields = [];
  const rows = [];
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    if (omit.has(name)) continue;
    const prop = resolveRef(raw, resolve);
    const kind = fieldKind(raw, resolve);
    const path = `${prefix}${name}`;
    const value = values[name] !== undefined ? values[name] : prop.default;
    const testid = `field-${path}`;
    let input;
    if (kind === "boolean") {
      input = h("input", { type: "checkbox", checked: Boolean(value), "data-testid": testid, name: path });
    } else if (kind === "enum") {
      input = h("select", { "data-testid": testid, name: path }, prop.enum.map((v) => h("option", { value: String(v), text: String(v), selected: String(v) === String(value) })));
    } else if (kind === "object" || kind === "array" || kind === "json") {
      input = h("textarea", { rows: 2, cols: 40, spellcheck: "false", class: "mono", "data-testid": testid, name: path, value: value === undefined ? "" : JSON.stringify(value) });
    } else {
      input = h("input", {
        type: kind === "integer" || kind === "number" ? "number" : "text",
        step: kind === "integer" ? "1" : kind === "number" ? "any" : null,
        inputmode: kind === "decimal" ? "decimal" : null,
        class: kind === "decimal" ? "mono" : null,
        "data-testid": testid,
        name: path,
        value: value === undefined || value === null ? "" : String(value),
      });
    }
    if (disabled.has(name)) input.disabled = true;
    const label = h("label", { text: `${prop.title || name}${required.has(name) ? " *" : ""}`, title: path });
    const error = h("div", { class: "field-error", "data-testid": `field-error-${path}`, role: "alert" });
    const bounds = boundsText(raw, resolve);
    const hint = [prop.description, bounds].filter(Boolean).join(" · ");
    rows.push(label, h("div", {}, input, error), h("div", { class: "hint", text: hint }));
    const initial = kind === "boolean" ? input.checked : input.value;
    const words = fieldWords(raw, resolve);
    fields.push({ name, path, kind, words, input, error, initial, optional: !required.has(name), nullable: nullable(raw, resolve) });
  }

  function readField(f) {
    if (f.kind === "boolean") return { value: f.input.checked };
    const text = f.input.value.trim();
    if (text === "") {
      if (f.nullable) return { value: null };
      if (f.optional) return { skip: true };
      return { error: "required" };
    }
    switch (f.kind) {
      case "integer":
        return /^[+-]?\d+$/.test(text) ? { value: Number.parseInt(text, 10) } : { error: "expected a whole number" };
      case "number": {
        const n = Number(text);
        return Number.isFinite(n) ? { value: n } : { error: "expected a number" };
      }
      case "decimal":
        if (f.words.includes(text)) return { value: text };
        if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) return { value: text };
        return { error: f.words.length ? `expected ${f.words.map((w) => `"${w}"`).join(", ")} or a decimal number such as 0.01` : "expected a decimal number such as 0.01" };
      case "object":
      case "array":
      case "json":
        try {
          return { value: JSON.parse(text) };
        } catch {
          return { error: "expected JSON, e.g. {\"seed\": 1}" };
        }
      default:
        return { value: text };
    }
  }

  return {
    rows,
    fields,
    /** values: every field; changed: names of the fields the user edited (a PATCH sends
     * those only: a default shown in the form is not a change). */
    read() {
      const out = {};
      const errors = {};
      const changed = [];
      for (const f of fields) {
        const r = readField(f);
        if (r.error) errors[f.path] = r.error;
        else if (!r.skip) out[f.name] = r.value;
        if ((f.kind === "boolean" ? f.input.checked : f.input.value) !== f.initial) changed.push(f.name);
      }
      return { values: out, errors, changed };
    },
    /** Show messages by field path; returns the messages no field of this form took. */
    showErrors(byPath) {
      const left = { ...byPath };
      for (const f of fields) {
        const message = byPath[f.path];
        f.error.textContent = message || "";
        f.input.classList.toggle("invalid", Boolean(message));
        if (message) delete left[f.path];
      }
      return left;
    },
  };
}

/**
 * "body.params.fast: Input should be greater than 0; body.symbol: Field required" →
 * {"params.fast": "...", "symbol": "..."}; text without a known field goes under "".
 * `known` (a list of field paths) picks the longest path an error starts with. A strategy's
 * own check names its parameters another way ("strategy x: parameter 'fast': input should be
 * …", "unknown parameter 'y'"): those go to "params.fast" / "params.y" when the form has them.
 */
export function errorsByField(message, known) {
  const out = {};
  const sorted = [...known].sort((a, b) => b.length - a.length);
  const add = (path, text) => {
    out[path] = out[path] ? `${out[path]}; ${text}` : text;
  };
  for (const part of String(message || "").split(/;\s+/)) {
    const param = /(?:^|\s|:\s)(?:unknown )?parameter '([A-Za-z0-9_]+)'(?::\s*(.*))?$/.exec(part);
    if (param && known.includes(`params.${param[1]}`)) {
      add(`params.${param[1]}`, param[2] || part.replace(/^[^:]*:\s*(?=unknown)/, ""));
      continue;
    }
    const match = /^([A-Za-z0-9_.[\]-]+):\s*(.*)$/.exec(part);
    const path = match ? match[1].replace(/^body\./, "") : "";
    const hit = sorted.find((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`));
    add(hit || "", hit ? match[2] : part);
  }
  return out;
}

/**
 * Check `reads` (the results of form.read()) before sending: every form shows the merged
 * errors; the message says to fix them. True when there is nothing to fix.
 */
export function showLocalErrors(forms, reads, message) {
  const local = Object.assign({}, ...reads.map((r) => r.errors));
  for (const f of forms) f.showErrors(local);
  if (!Object.keys(local).length) return true;
  message.textContent = "Fix the marked fields.";
  return false;
}

/**
 * Put an API error on the fields it names (a 422's "body.x: …" parts); `extra` maps other
 * paths (fields outside the forms) to their error elements. What no field takes goes into
 * `message`.
 */
export function showApiError(err, forms, message, extra = {}) {
  const paths = [...Object.keys(extra), ...forms.flatMap((f) => f.fields.map((x) => x.path))];
  const byField = err.status === 422 ? errorsByField(err.message, paths) : { "": err.message };
  const left = { ...byField };
  for (const f of forms) {
    f.showErrors(byField);
    for (const x of f.fields) delete left[x.path];
  }
  for (const [path, element] of Object.entries(extra)) {
    element.textContent = left[path] || "";
    delete left[path];
  }
  message.textContent = Object.values(left).join("; ");
}

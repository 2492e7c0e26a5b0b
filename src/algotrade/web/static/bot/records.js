// Keyed record tables for the bot page (orders, fills, positions, logs): newest first, rows
// updated in place by key, at most `max` rows, redrawn once per animation frame.

export class RecordTable {
  /**
   * columns: [{label, value(record) → text, class?(record) → string, num?: bool}]
   * key(record) → unique key; order(record) → sort value (larger = newer, shown first);
   * newer(a, b) → true when record a should replace b (default: always).
   */
  constructor(ctx, { testid, columns, key, order, newer = () => true, max = 200, emptyText = "None." }) {
    this.ctx = ctx;
    this.columns = columns;
    this.key = key;
    this.order = order;
    this.newer = newer;
    this.max = max;
    this.emptyText = emptyText;
    this.records = new Map();
    this.rows = new Map(); // key → {tr, record}
    this.frame = 0;
    const { h } = ctx;
    this.tbody = h("tbody", { "data-testid": `${testid}-body` });
    this.empty = h("div", { class: "empty", text: emptyText, "data-testid": `${testid}-empty` });
    this.element = h(
      "div",
      { class: "table-wrap short", "data-testid": testid },
      h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, text: c.label })))), this.tbody),
      this.empty,
    );
  }

  /** Replace everything (a REST page); `merge` keeps what is there and adds these. */
  set(list, { merge = false } = {}) {
    if (!merge) this.records.clear();
    this.upsert(list);
  }

  upsert(list) {
    for (const record of list) {
      const k = this.key(record);
      const known = this.records.get(k);
      if (known && !this.newer(record, known)) continue;
      this.records.set(k, record);
    }
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    const { h } = this.ctx;
    const sorted = [...this.records.values()].sort((a, b) => {
      const va = this.order(a);
      const vb = this.order(b);
      return va < vb ? 1 : va > vb ? -1 : 0;
    });
    for (const record of sorted.slice(this.max)) this.records.delete(this.key(record));
    const shown = sorted.slice(0, this.max);
    const keep = new Set(shown.map((r) => this.key(r)));
    for (const [k, row] of this.rows) {
      if (!keep.has(k)) {
        row.tr.remove();
        this.rows.delete(k);
      }
    }
    let node = this.tbody.firstChild;
    for (const record of shown) {
      const k = this.key(record);
      let row = this.rows.get(k);
      if (!row) {
        row = { tr: h("tr", { "data-key": String(k) }, this.columns.map((c) => h("td", { class: c.num ? "num" : null }))), record: null };
        this.rows.set(k, row);
      }
      if (row.record !== record) {
        row.record = record;
        this.columns.forEach((c, i) => {
          const td = row.tr.children[i];
          const text = String(c.value(record) ?? "—");
          if (td.textContent !== text) td.textContent = text;
          const cls = [c.num ? "num" : "", c.class ? c.class(record) : ""].join(" ").trim();
          if (td.className !== cls) td.className = cls;
        });
      }
      if (row.tr === node) node = node.nextSibling;
      else this.tbody.insertBefore(row.tr, node);
    }
    this.empty.hidden = shown.length > 0;
  }

  destroy() {
    cancelAnimationFrame(this.frame);
  }
}

// Small DOM builders shared by the panels.

export const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element: attributes (`text` sets its text), then children (elements or strings). */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") {
      if (v != null) node.textContent = v;
    } else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** A toolbar button. */
export function button(text, title, onClick) {
  const b = el("button", { class: "if-button", type: "button", title, text });
  b.addEventListener("click", onClick);
  return b;
}

/** An SVG element with attributes. */
export function svgEl(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

// Downloads of the drawing (SVG, PNG) and of the graph (JSON), all made in the browser.

// Presentation properties the stylesheet sets; an exported SVG carries them inline, since it leaves the page.
const STYLED = ["fill", "stroke", "stroke-width", "stroke-opacity", "opacity", "font-family", "font-size", "font-weight"];

/** The SVG as standalone text: computed styles inlined, theme background painted. */
export function svgText(svg) {
  const copy = svg.cloneNode(true);
  const source = svg.querySelectorAll("*");
  copy.querySelectorAll("*").forEach((node, i) => {
    const computed = getComputedStyle(source[i]);
    const style = STYLED.map((p) => `${p}:${computed.getPropertyValue(p)}`).filter((s) => !s.endsWith(":"));
    node.setAttribute("style", style.join(";"));
  });
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const background = getComputedStyle(svg.closest(".if-root") ?? svg).getPropertyValue("--if-bg").trim() || "#ffffff";
  const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  rect.setAttribute("width", "100%");
  rect.setAttribute("height", "100%");
  rect.setAttribute("fill", background);
  copy.insertBefore(rect, copy.firstChild);
  return new XMLSerializer().serializeToString(copy);
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function downloadSvg(svg, filename = "infoflow.svg") {
  download(new Blob([svgText(svg)], { type: "image/svg+xml" }), filename);
}

/** A PNG at twice the on-screen resolution, drawn from the SVG through a canvas. */
export function downloadPng(svg, filename = "infoflow.png", scale = 2) {
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: "image/svg+xml" }));
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = svg.width.baseVal.value * scale;
    canvas.height = svg.height.baseVal.value * scale;
    const context = canvas.getContext("2d");
    context.scale(scale, scale);
    context.drawImage(image, 0, 0);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => download(blob, filename), "image/png");
  };
  image.src = url;
}

export function downloadJson(graph, filename = "infoflow-graph.json") {
  download(new Blob([JSON.stringify(graph, null, 1)], { type: "application/json" }), filename);
}

// The head view's behaviour (see head_view.py): draws the SVG from the page's JSON data, then
// hover focuses a token's lines, a click pins that focus, the legend hides heads, and the buttons
// download the drawing. Plain DOM and SVG: the page runs offline inside Streamlit's iframe.
"use strict";
(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PAD = 6; // px around the drawing and inside a token's highlight
  const GAP = 10; // px between a token and the ends of its lines
  const MIN_SPAN = 80; // px of lines at least, however long the tokens
  const SWATCH = 18; // px of line in front of a head's name in the legend
  const PNG_SCALE = 2;
  const OTHER_SIDE = { query: "key", key: "query" };

  const data = JSON.parse(document.getElementById("head-view-data").textContent);
  const svg = document.getElementById("head-view");
  const hiddenHeads = new Set();
  let pinned = null; // {side, index} of the clicked token: kept while the pointer moves elsewhere
  let hovered = null;
  let tokens; // side -> the <g> of each token
  let linesOf; // side -> per token, its lines as {element, head, other: the token at the other end}
  let marked = []; // what the last update() marked, to unmark

  const rowY = (row) => (data.headerRows + row + 0.5) * data.rowHeight;

  function add(parent, name, attributes = {}, text = null) {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== null) element.textContent = text;
    parent.append(element);
    return element;
  }

  // A click, or Enter / Space once it has the keyboard focus, runs action.
  function clickable(element, action) {
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
    element.addEventListener("click", (event) => {
      event.stopPropagation(); // a click on the background unpins
      action();
    });
    element.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        action();
      }
    });
  }

  // Only the focused token's lines stay (CSS hides the others); the tokens they reach stand out.
  function update() {
    for (const element of marked) element.classList.remove("on", "current", "pinned", "linked");
    marked = [];
    const focus = pinned || hovered;
    svg.classList.toggle("focused", focus !== null);
    if (focus === null) return;
    const mark = (element, ...names) => {
      element.classList.add(...names);
      marked.push(element);
    };
    mark(tokens[focus.side][focus.index], "current", ...(pinned ? ["pinned"] : []));
    for (const { element, head, other } of linesOf[focus.side][focus.index]) {
      mark(element, "on");
      if (!hiddenHeads.has(head)) mark(tokens[OTHER_SIDE[focus.side]][other], "linked");
    }
  }

  function togglePin(token) {
    const same = pinned && pinned.side === token.side && pinned.index === token.index;
    pinned = same ? null : token;
    update();
  }

  function toggleHead(head) {
    if (!hiddenHeads.delete(head)) hiddenHeads.add(head);
    for (const element of svg.querySelectorAll(`[data-head="${head}"]`)) {
      element.classList.toggle("off", hiddenHeads.has(head));
    }
    update();
  }

  // The box behind a token or a legend entry: it takes the pointer between letters, shows hover and pin.
  const addBackdrop = (parent, y) =>
    add(parent, "rect", { class: "backdrop", rx: 3, y: y - data.rowHeight / 2 + 1, height: data.rowHeight - 2 });

  // The title, then one entry per head, on the first row; the heads' numbers alone if their
  // names do not fit the width. Returns where the row ends.
  function drawLegend(y) {
    const title = data.title && add(svg, "text", { class: "title", x: PAD, y }, data.title);
    const start = PAD + (title ? title.getComputedTextLength() + 2 * GAP : 0);
    const entries = data.heads.map((head) => {
      const off = hiddenHeads.has(head.head) ? " off" : "";
      const item = add(svg, "g", { class: "legend-item" + off, "data-head": head.head });
      add(item, "title", {}, `Click to hide or show the lines of ${head.name}`);
      const backdrop = addBackdrop(item, y);
      const swatch = add(item, "line", { y1: y, y2: y, stroke: head.color, "stroke-width": 3 });
      const name = add(item, "text", { y }, head.name);
      clickable(item, () => toggleHead(head.head));
      return { head, backdrop, swatch, name };
    });
    const place = (spacing) => {
      let x = start;
      for (const { backdrop, swatch, name } of entries) {
        const width = SWATCH + PAD + name.getComputedTextLength();
        swatch.setAttribute("x1", x);
        swatch.setAttribute("x2", x + SWATCH);
        name.setAttribute("x", x + SWATCH + PAD);
        backdrop.setAttribute("x", x - PAD / 2);
        backdrop.setAttribute("width", width + PAD);
        x += width + spacing;
      }
      return x;
    };
    const end = place(2 * GAP);
    if (end <= document.body.clientWidth) return end;
    for (const { head, name } of entries) name.textContent = head.head + 1;
    return place(GAP);
  }

  function drawTokens(side, labels, tips) {
    return labels.map((label, index) => {
      const group = add(svg, "g", { class: "token", "data-side": side, "data-index": index });
      add(group, "title", {}, tips[index]);
      const y = rowY(index);
      addBackdrop(group, y);
      add(group, "text", { y, "text-anchor": side === "query" ? "end" : "start" }, label);
      group.addEventListener("mouseenter", () => {
        hovered = { side, index };
        update();
      });
      group.addEventListener("mouseleave", () => {
        hovered = null;
        update();
      });
      clickable(group, () => togglePin({ side, index }));
      return group;
    });
  }

  // Token columns at x: queries end there, keys start there; a highlight box around each text.
  function placeTokens(groups, x, anchorEnd) {
    for (const group of groups) {
      const text = group.querySelector("text");
      const width = text.getComputedTextLength();
      text.setAttribute("x", x);
      group.querySelector("rect").setAttribute("x", anchorEnd ? x - width - PAD / 2 : x - PAD / 2);
      group.querySelector("rect").setAttribute("width", width + PAD);
    }
  }

  function draw() {
    svg.replaceChildren();
    svg.setAttribute("font-size", data.fontSize);
    document.body.style.fontSize = `${data.fontSize}px`;
    const legendEnd = drawLegend(rowY(-data.headerRows));
    svg.classList.add("measuring"); // a token in bold (focused, linked) must fit too
    const lineLayer = add(svg, "g"); // under the tokens
    tokens = {
      query: drawTokens("query", data.queries, data.queryTips),
      key: drawTokens("key", data.keys, data.keyTips),
    };
    const [queryHeading, keyHeading] = data.columnNames;
    const queryName = add(svg, "text", { class: "column-name", y: rowY(-1), "text-anchor": "end" }, queryHeading);
    const keyName = add(svg, "text", { class: "column-name", y: rowY(-1) }, keyHeading);
    const widest = (groups, name) =>
      Math.max(name.getComputedTextLength(), ...groups.map((g) => g.querySelector("text").getComputedTextLength()));
    const queryX = PAD + widest(tokens.query, queryName);
    const keyWidth = widest(tokens.key, keyName);
    const keyX = Math.max(queryX + 2 * GAP + MIN_SPAN, document.body.clientWidth - PAD - keyWidth);
    const width = Math.ceil(Math.max(legendEnd, keyX + keyWidth + PAD));
    placeTokens(tokens.query, queryX, true);
    placeTokens(tokens.key, keyX, false);
    svg.classList.remove("measuring");
    queryName.setAttribute("x", queryX);
    keyName.setAttribute("x", keyX);

    linesOf = { query: data.queries.map(() => []), key: data.keys.map(() => []) };
    for (const head of data.heads) {
      const off = hiddenHeads.has(head.head) ? " off" : "";
      const group = add(lineLayer, "g", { class: "head-lines" + off, "data-head": head.head, stroke: head.color });
      for (const [query, key, weight] of head.lines) {
        const element = add(group, "line", {
          class: "link",
          x1: queryX + GAP,
          y1: rowY(query),
          x2: keyX - GAP,
          y2: rowY(key),
          "stroke-opacity": weight,
          "data-query": query,
          "data-key": key,
        });
        linesOf.query[query].push({ element, head: head.head, other: key });
        linesOf.key[key].push({ element, head: head.head, other: query });
      }
    }
    svg.setAttribute("width", width);
    svg.setAttribute("height", data.height);
    svg.setAttribute("viewBox", `0 0 ${width} ${data.height}`);
    marked = [];
    update();
  }

  // The drawing as a standalone SVG file, styled as on the page.
  function svgMarkup() {
    const copy = svg.cloneNode(true);
    const style = document.createElementNS(SVG_NS, "style");
    style.textContent = document.getElementById("head-view-style").textContent;
    copy.prepend(style);
    return new XMLSerializer().serializeToString(copy);
  }

  function save(blob, name) {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  }

  function downloadPng() {
    const width = svg.width.baseVal.value;
    const height = svg.height.baseVal.value;
    const image = new Image();
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = width * PNG_SCALE;
      canvas.height = height * PNG_SCALE;
      const context = canvas.getContext("2d");
      context.scale(PNG_SCALE, PNG_SCALE);
      context.fillStyle = "#fff"; // PNG viewers show transparency as black or a checkerboard
      context.fillRect(0, 0, width, height);
      context.drawImage(image, 0, 0, width, height);
      canvas.toBlob((blob) => save(blob, `${data.filename}.png`), "image/png");
    };
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgMarkup())}`;
  }

  svg.addEventListener("click", () => {
    pinned = null;
    update();
  });
  document.getElementById("download-png").addEventListener("click", downloadPng);
  document.getElementById("download-svg").addEventListener("click", () =>
    save(new Blob([svgMarkup()], { type: "image/svg+xml" }), `${data.filename}.svg`),
  );
  let drawnWidth = document.body.clientWidth;
  window.addEventListener("resize", () => {
    if (document.body.clientWidth === drawnWidth) return;
    drawnWidth = document.body.clientWidth;
    draw();
  });
  draw();
})();

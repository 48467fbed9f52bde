// The terminal page: xterm.js on a WebSocket to Periscope, which relays each
// byte to the engine's exec and back. No inline script or style (CSP).
(function () {
  "use strict";

  // -- xterm under a strict CSP ---------------------------------------------------
  // xterm's DOM renderer writes its layout and colour rules into <style> elements
  // it makes (document.createElement("style")), and colours 24-bit text with
  // span.setAttribute("style", ...). Both are inline styles, which this page's
  // CSP (style-src 'self') refuses: rows would not be laid out and Chromium would
  // log a violation for each. The same declarations through the CSSOM are not
  // inline styles and the CSP allows them: each <style> xterm asks for becomes a
  // constructed stylesheet (document.adoptedStyleSheets), and a span's style
  // attribute becomes element.style. The CSS is xterm's own, built from its
  // options and theme set below and from colours parsed to numbers; no text from
  // the container reaches it. Only the terminal page loads this script.
  var create = Document.prototype.createElement;
  function sheetElement(doc) {
    var el = create.call(doc, "template"); // inert, never rendered, not a <style>
    var sheet = new CSSStyleSheet();
    var text = "";
    var adopted = false;
    Object.defineProperty(el, "textContent", {
      get: function () { return text; },
      set: function (css) {
        text = String(css);
        sheet.replaceSync(text);
        if (!adopted) { doc.adoptedStyleSheets = doc.adoptedStyleSheets.concat([sheet]); adopted = true; }
      }
    });
    var remove = el.remove;
    el.remove = function () {
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter(function (s) { return s !== sheet; });
      adopted = false;
      remove.call(el);
    };
    return el;
  }
  Document.prototype.createElement = function (tag, options) {
    if (String(tag).toLowerCase() === "style") { return sheetElement(this); }
    return create.call(this, tag, options);
  };
  var setAttribute = Element.prototype.setAttribute;
  HTMLSpanElement.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "style") { this.style.cssText = String(value); return; }
    return setAttribute.call(this, name, value);
  };

  // -- the terminal ------------------------------------------------------------------
  var encoder = new TextEncoder();

  function init() {
    var form = document.getElementById("term-form");
    var box = document.getElementById("terminal");
    var status = document.getElementById("term-status");
    var endButton = document.getElementById("term-end");
    if (!form || !box || !window.Terminal || !window.FitAddon) { return; }
    var term = new window.Terminal({
      cursorBlink: true, fontSize: 14, scrollback: 5000,
      fontFamily: 'ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      theme: { background: "#14171b", foreground: "#e3e6ea", cursor: "#5aa9ff",
               selectionBackground: "#3a4a60" },
      // links the container prints (OSC 8) are shown, never followed
      linkHandler: { activate: function () {} }
    });
    var fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(box);
    var ws = null;
    var ended = true;
    var ending = false; // the End button was pressed

    function say(state, text, code) {
      status.setAttribute("data-state", state);
      if (code === undefined || code === null) { status.removeAttribute("data-code"); }
      else { status.setAttribute("data-code", String(code)); }
      status.textContent = text; // plain text only, whatever it holds
    }

    function size() {
      try { fit.fit(); } catch (e) { /* not laid out yet */ }
      box.setAttribute("data-rows", String(term.rows));
      box.setAttribute("data-cols", String(term.cols));
    }

    function send(data) {
      if (ws && ws.readyState === WebSocket.OPEN) { ws.send(data); }
    }

    term.onData(function (d) {
      var bytes = encoder.encode(d);
      // a paste goes in pieces: Periscope takes frames of 64 KiB at most
      for (var i = 0; i < bytes.length; i += 16384) { send(bytes.subarray(i, i + 16384)); }
    });
    term.onBinary(function (d) {
      var b = new Uint8Array(d.length);
      for (var i = 0; i < d.length; i++) { b[i] = d.charCodeAt(i) & 255; }
      send(b);
    });
    term.onResize(function (s) {
      box.setAttribute("data-rows", String(s.rows));
      box.setAttribute("data-cols", String(s.cols));
      send(JSON.stringify({ type: "resize", rows: s.rows, cols: s.cols }));
    });
    var resizeTimer = 0;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(size, 80);
    });

    function choices() {
      var data = new FormData(form);
      var q = new URLSearchParams();
      ["shell", "argv", "user", "workdir"].forEach(function (k) {
        var v = data.get(k);
        if (v && (k !== "argv" || data.get("shell") === "custom")) { q.set(k, v); }
      });
      q.set("rows", String(term.rows));
      q.set("cols", String(term.cols));
      return q;
    }

    function describe() {
      var data = new FormData(form);
      if (data.get("shell") === "custom") { return String(data.get("argv") || "").trim(); }
      return data.get("shell") === "bash" ? "/bin/bash" : "/bin/sh";
    }

    function finished(msg) {
      ended = true;
      form.classList.remove("running");
      endButton.disabled = true;
      var state = msg.reason === "exit" ? (msg.code === 0 ? "ok" : "exited") : msg.reason;
      say(state, msg.text + (msg.again ? " Start again when you like." : ""), msg.code);
      if (!msg.again && (msg.reason === "stopped" || msg.reason === "removed")) {
        // nothing to start again in: say what the container is now, and where to go
        var badge = document.getElementById("term-state");
        var word = msg.reason === "stopped" ? "exited" : "removed";
        badge.textContent = word;
        badge.className = "state s-exited";
        document.getElementById("term-start").disabled = true;
        document.getElementById("term-gone").hidden = msg.reason === "removed";
        term.write("\r\n\x1b[2m[" + msg.reason + "]\x1b[0m\r\n");
        return;
      }
      term.write("\r\n\x1b[2m[" + (msg.reason === "exit" ? "exit code " + msg.code : msg.reason) + "]\x1b[0m\r\n");
      document.getElementById("term-start").focus();
    }

    function start() {
      if (ws) { ws.onclose = null; ws.close(); ws = null; }
      size();
      var url = new URL(form.getAttribute("data-ws"), location.href);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      url.search = choices().toString();
      var what = describe();
      term.reset();
      say("connecting", "Starting " + what + "…");
      ended = false;
      ending = false;
      form.classList.add("running");
      endButton.disabled = false;
      var opened = false;
      var sock = new WebSocket(url.toString(), ["periscope.terminal", "csrf." + form.getAttribute("data-csrf")]);
      sock.binaryType = "arraybuffer";
      ws = sock;
      sock.onopen = function () { opened = true; };
      sock.onmessage = function (ev) {
        if (typeof ev.data !== "string") { term.write(new Uint8Array(ev.data)); return; }
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "started") {
          say("running", "Running " + msg.command + " · exec " + String(msg.exec).slice(0, 12));
          status.setAttribute("data-exec", String(msg.exec));
          term.focus();
        } else if (msg.type === "notice") {
          say("notice", msg.text);
        } else if (msg.type === "end") {
          finished(msg);
        }
      };
      sock.onclose = function (ev) {
        if (ws !== sock) { return; }
        ws = null;
        if (ended) { return; }
        finished({ reason: ending ? "ended" : "closed", again: true, code: null,
                   text: ending ? "You ended the command." :
                         opened ? "The connection to Periscope closed (code " + ev.code + ")."
                                : "Periscope refused the terminal: the page may have expired, or you were logged out. Reload the page." });
      };
    }

    form.addEventListener("submit", function (ev) { ev.preventDefault(); start(); });
    endButton.addEventListener("click", function () {
      if (ws) { ending = true; say("closing", "Ending the command…"); ws.close(1000); }
    });
    form.addEventListener("change", function (ev) {
      if (ev.target.name === "argv") { form.querySelector('input[value="custom"]').checked = true; }
    });
    form.querySelector('input[name="argv"]').addEventListener("input", function () {
      form.querySelector('input[value="custom"]').checked = true;
    });
    // Leaving the page ends the command (the server ends the exec when the socket closes).
    window.addEventListener("pagehide", function () { if (ws) { ws.close(1001); } });
    size();
    // Opening the page starts the default shell. Never a command from the URL:
    // a link from another site must not choose what runs.
    start();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); }
  else { init(); }
})();

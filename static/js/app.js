/* Portal behaviour. No inline scripts anywhere: the Content-Security-Policy forbids them. */
(function () {
  "use strict";

  function showToast(message, level) {
    var box = document.getElementById("toasts");
    if (!box || !message) { return; }
    var item = document.createElement("div");
    item.className = "toast toast-" + (level || "info");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    item.textContent = message;   // text only: a message never becomes markup
    box.appendChild(item);
    window.setTimeout(function () { item.classList.add("leaving"); }, 5000);
    window.setTimeout(function () { item.remove(); }, 5600);
  }

  // Server-sent toasts: HX-Trigger: {"portal:toast": {"message": "...", "level": "success"}}
  document.addEventListener("portal:toast", function (evt) {
    var d = evt.detail || {};
    showToast(d.message, d.level);
  });

  // A failed htmx request that the server did not answer with its own toast.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail && evt.detail.xhr;
    if (xhr && (xhr.getResponseHeader("HX-Trigger") || "").indexOf("portal:toast") !== -1) { return; }
    var lang = document.documentElement.lang || "en";
    showToast(lang.indexOf("zh") === 0 ? "操作未成功，请刷新页面后重试。" : "That did not work. Reload the page and try again.", "error");
  });
  document.addEventListener("htmx:sendError", function () {
    var lang = document.documentElement.lang || "en";
    showToast(lang.indexOf("zh") === 0 ? "无法连接服务器，请检查网络。" : "The portal could not be reached. Check your connection.", "error");
  });

  // "Hide screen": blank the page at once if a student walks up; the same button or Esc restores it.
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-hide-screen]");
    if (btn) { document.body.classList.toggle("screen-hidden"); }
    else if (document.body.classList.contains("screen-hidden")) { document.body.classList.remove("screen-hidden"); }
  });
  // The printable safety plan's "Print" button.
  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("[data-print]")) { window.print(); }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") { document.body.classList.remove("screen-hidden"); }
  });

  // After a swap that shows form errors, move focus to the first one (keyboard and screen readers).
  // (evt.target is the element now in the page; with an outerHTML swap evt.detail.target is
  // the element that was replaced and is no longer in the document.)
  document.addEventListener("htmx:afterSwap", function (evt) {
    var target = evt.target && evt.target.isConnected ? evt.target : null;
    if (!target || !target.querySelector) { return; }
    var invalid = target.querySelector("[aria-invalid='true']");
    if (invalid) { invalid.focus(); }
  });
})();

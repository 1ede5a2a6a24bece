// GTM Copilot: the chat signs in on the product's own page (/login), not on Chainlit's.
// Chainlit's app switches to its /chat/login route in the page itself (no request reaches the server
// when a session ends or on "Logout"), so watch the address and leave for /login?next=/chat instead.
(function () {
  var CHAT_LOGIN = "/chat/login";
  function check() {
    if (window.location.pathname.replace(/\/+$/, "") === CHAT_LOGIN) {
      window.location.replace("/login?next=" + encodeURIComponent("/chat"));
    }
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var original = window.history[name];
    window.history[name] = function () {
      var result = original.apply(this, arguments);
      check();
      return result;
    };
  });
  window.addEventListener("popstate", check);
  check();
})();

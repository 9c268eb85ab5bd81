// Forms without a reload: inline errors per field, UTM capture and a time trap. Without this
// script the form still posts and the runtime answers with a page.
(function () {
  var started = Date.now();
  var params = new URLSearchParams(window.location.search);
  document.querySelectorAll("form[data-ecospec-form]").forEach(function (form) {
    ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"].forEach(function (key) {
      var value = params.get(key);
      var input = form.querySelector('input[name="' + key + '"]');
      if (value && input) input.value = value;
    });
    var stamp = form.querySelector('input[name="_ts"]');
    if (stamp) stamp.value = String(started);
    var status = form.querySelector("[data-form-status]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
      var button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } })
        .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
        .then(function (result) {
          if (result.ok) {
            if (result.body.redirect) { window.location.assign(result.body.redirect); return; }
            form.reset();
            if (status) status.textContent = result.body.message || "";
            return;
          }
          var errors = result.body.errors || {};
          var first = null;
          Object.keys(errors).forEach(function (name) {
            var slot = form.querySelector('[data-error-for="' + name + '"]');
            var input = form.querySelector('[name="' + name + '"]');
            if (slot) slot.textContent = errors[name];
            if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
          });
          if (status) status.textContent = result.body.message || "";
          if (first) first.focus();
        })
        .catch(function () { if (status) status.textContent = form.getAttribute("data-offline-text") || ""; })
        .finally(function () { if (button) button.disabled = false; });
    });
  });
})();

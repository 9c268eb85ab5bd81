// Forms without a reload: inline errors per field, UTM capture and a time trap. Without this
// script the form still posts and the runtime answers with a page.
//
// The runtime answers a script with JSON: {ok: true, message, redirect} when it kept the lead, or
// {ok: false, message, errors: {field: text}} when it did not. Only `ok: true` is a success; then
// the form is cleared. Otherwise the entered values stay, each field with an error is marked
// (aria-invalid, its error text as its description) and the first of them, in the form's order,
// takes the focus.
//
// The time trap: `_elapsed` carries the milliseconds from the page's load to the post, measured
// with performance.now(), a clock of the page's own that the computer's date setting cannot move.
(function () {
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"];
  var params = new URLSearchParams(window.location.search);
  var uid = 0;

  function fillUtm(form) {
    UTM.forEach(function (key) {
      var value = params.get(key);
      var input = form.elements.namedItem(key);
      if (value && input && input.type === "hidden") input.value = value;
    });
  }

  function slotFor(form, name) {
    var found = null;
    form.querySelectorAll("[data-error-for]").forEach(function (el) {
      if (!found && el.getAttribute("data-error-for") === name) found = el;
    });
    return found;
  }

  // the visible controls of the form, in the order a visitor meets them
  function controls(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.type !== "hidden" && el.type !== "submit" && el.type !== "button" &&
        !el.closest("[aria-hidden='true']");
    });
  }

  function describe(input, slot) {
    if (!slot.id) slot.id = "ecospec-error-" + (++uid);
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (ids.indexOf(slot.id) < 0) input.setAttribute("aria-describedby", ids.concat(slot.id).join(" "));
  }

  function clearErrors(form, status) {
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    if (status) { status.textContent = ""; status.removeAttribute("data-state"); }
  }

  // marks the fields in error; returns the first of them and the errors of no field on the form
  function showErrors(form, errors) {
    var first = null;
    var placed = {};
    controls(form).forEach(function (input) {
      var text = Object.prototype.hasOwnProperty.call(errors, input.name) ? errors[input.name] : "";
      if (!text || placed[input.name]) return;
      placed[input.name] = true;
      var slot = slotFor(form, input.name);
      if (slot) { slot.textContent = text; describe(input, slot); }
      input.setAttribute("aria-invalid", "true");
      if (!first) first = input;
    });
    var rest = Object.keys(errors).filter(function (name) { return !placed[name]; })
      .map(function (name) { return errors[name]; });
    return { first: first, rest: rest };
  }

  function say(status, text, state) {
    if (!status) return;
    status.textContent = text || "";
    status.setAttribute("data-state", state);
  }

  document.querySelectorAll("form[data-ecospec-form]").forEach(function (form) {
    fillUtm(form);
    var status = form.querySelector("[data-form-status]");
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      clearErrors(form, status);
      var body = new FormData(form);
      body.set("_elapsed", String(Math.round(performance.now())));
      var button = form.querySelector('[type="submit"]');
      if (button) button.disabled = true;
      form.setAttribute("aria-busy", "true");
      fetch(form.action, { method: "POST", body: body, headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(
            function (answer) { return { ok: response.ok, answer: answer }; },
            function () { return { ok: false, answer: null }; }
          );
        })
        .then(function (result) {
          var answer = result.answer;
          if (!answer || typeof answer !== "object") {
            say(status, form.getAttribute("data-failed-text"), "error");
            return;
          }
          if (result.ok && answer.ok === true) {
            if (answer.redirect) { window.location.assign(answer.redirect); return; }
            form.reset();
            fillUtm(form);
            say(status, answer.message, "sent");
            return;
          }
          var shown = showErrors(form, answer.errors || {});
          var message = answer.message || form.getAttribute("data-failed-text") || "";
          say(status, [message].concat(shown.rest).join(" "), "error");
          if (shown.first) shown.first.focus();
        })
        .catch(function () { say(status, form.getAttribute("data-offline-text"), "error"); })
        .finally(function () {
          busy = false;
          form.removeAttribute("aria-busy");
          if (button) button.disabled = false;
        });
    });
  });
})();

// Mortgage calculator: sliders for price, down payment and term, a program choice, and the
// annuity payment recomputed as they move. Without this script the block shows a fixed example.
(function () {
  var money = new Intl.NumberFormat("ru-RU", { maximumFractionDigits: 0 });
  function rub(n) { return money.format(Math.round(n)) + "\u00a0₽"; }
  function years(n) {
    var a = n % 10, b = n % 100;
    return n + " " + (a === 1 && b !== 11 ? "год" : a >= 2 && a <= 4 && (b < 12 || b > 14) ? "года" : "лет");
  }
  document.querySelectorAll("[data-mortgage]").forEach(function (box) {
    var inputs = box.querySelector("[data-mortgage-inputs]");
    if (!inputs) return;
    var programs = Array.prototype.map.call(box.querySelectorAll("[data-program]"), function (el) {
      return {
        el: el,
        name: el.getAttribute("data-name"),
        rate: parseFloat(el.getAttribute("data-rate")),
        minDown: parseFloat(el.getAttribute("data-min-down")) || 0,
        maxTerm: parseInt(el.getAttribute("data-max-term"), 10) || 35,
        maxAmount: parseFloat(el.getAttribute("data-max-amount")) || Infinity
      };
    });
    var select = box.querySelector("[data-mortgage-program]");
    var price = box.querySelector("[data-mortgage-price]");
    var down = box.querySelector("[data-mortgage-down]");
    var term = box.querySelector("[data-mortgage-term]");
    var warning = box.querySelector("[data-mortgage-warning]");
    function show(name, text) { var el = box.querySelector('[data-show="' + name + '"]'); if (el) el.textContent = text; }
    function update() {
      var p = programs[parseInt(select.value, 10)] || programs[0];
      var cost = parseFloat(price.value);
      var dp = parseFloat(down.value);
      var t = parseInt(term.value, 10);
      var warn = [];
      if (dp < p.minDown) { warn.push("По этой программе взнос — от " + p.minDown + "%."); }
      if (t > p.maxTerm) { warn.push("Срок по этой программе — до " + p.maxTerm + (p.maxTerm % 10 === 1 && p.maxTerm % 100 !== 11 ? " года." : " лет.")); t = p.maxTerm; }
      var loan = cost * (100 - dp) / 100;
      if (loan > p.maxAmount) { warn.push("Лимит программы — " + rub(p.maxAmount) + "; остаток можно взять по стандартной ставке."); }
      var r = p.rate / 1200, n = t * 12;
      var pay = r === 0 ? loan / n : loan * r / (1 - Math.pow(1 + r, -n));
      pay = Math.ceil(pay / 100) * 100;
      show("price", rub(cost));
      show("down", dp + "% · " + rub(cost * dp / 100));
      show("term", years(parseInt(term.value, 10)));
      show("payment", rub(pay));
      show("program", p.name);
      show("rate", String(p.rate).replace(".", ",") + "%");
      show("loan", rub(loan));
      show("overpay", rub(Math.max(0, pay * n - loan)));
      price.setAttribute("aria-valuetext", rub(cost));
      down.setAttribute("aria-valuetext", dp + "%");
      term.setAttribute("aria-valuetext", years(parseInt(term.value, 10)));
      warning.textContent = warn.join(" ");
      programs.forEach(function (q) { q.el.classList.toggle("is-active", q === p); });
      [price, down, term].forEach(function (el) {
        var pct = (el.value - el.min) / (el.max - el.min) * 100;
        el.style.setProperty("--fill", pct + "%");
      });
    }
    [select, price, down, term].forEach(function (el) { el.addEventListener("input", update); });
    programs.forEach(function (q, i) {
      q.el.addEventListener("click", function () { select.value = String(i); update(); });
    });
    inputs.hidden = false;
    box.querySelector("[data-mortgage-static]").hidden = true;
    box.classList.add("is-live");
    update();
  });
})();

// Countdown: turns the static deadline into a live days–hours–minutes–seconds counter.
(function () {
  var forms = { d: ["день", "дня", "дней"], h: ["час", "часа", "часов"], m: ["минута", "минуты", "минут"], s: ["секунда", "секунды", "секунд"] };
  function plural(n, f) {
    var a = n % 10, b = n % 100;
    if (a === 1 && b !== 11) return f[0];
    if (a >= 2 && a <= 4 && (b < 12 || b > 14)) return f[1];
    return f[2];
  }
  document.querySelectorAll("[data-countdown]").forEach(function (box) {
    var ends = Date.parse(box.getAttribute("data-ends"));
    var starts = box.hasAttribute("data-starts") ? Date.parse(box.getAttribute("data-starts")) : NaN;
    var timer = box.querySelector("[data-countdown-timer]");
    var title = box.querySelector("[data-countdown-title]");
    var ru = (document.documentElement.lang || "ru").indexOf("ru") === 0;
    var runningTitle = title.textContent;
    if (isNaN(ends) || !timer) return;
    var handle;
    function tick() {
      var now = Date.now();
      var before = !isNaN(starts) && now < starts;
      var target = before ? starts : ends;
      var left = Math.max(0, Math.floor((target - now) / 1000));
      if (!before && left === 0) {
        clearInterval(handle);
        timer.hidden = true;
        title.textContent = box.getAttribute("data-expired") || runningTitle;
        box.classList.add("countdown--over");
        return;
      }
      title.textContent = before ? box.getAttribute("data-before-title") || runningTitle : runningTitle;
      var parts = { d: Math.floor(left / 86400), h: Math.floor(left / 3600) % 24, m: Math.floor(left / 60) % 60, s: left % 60 };
      Object.keys(parts).forEach(function (unit) {
        var num = box.querySelector('[data-unit="' + unit + '"]');
        var label = box.querySelector('[data-unit-label="' + unit + '"]');
        if (num) num.textContent = (parts[unit] < 10 ? "0" : "") + parts[unit];
        if (label && ru) label.textContent = plural(parts[unit], forms[unit]);
      });
      timer.setAttribute("aria-label", parts.d + " " + plural(parts.d, forms.d) + ", " + parts.h + " " + plural(parts.h, forms.h) + ", " + parts.m + " " + plural(parts.m, forms.m));
      timer.hidden = false;
    }
    tick();
    handle = setInterval(tick, 1000);
  });
})();

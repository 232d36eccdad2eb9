// Progressive enhancement only: every page works without this script.
// 1. Postcode → address: when a postcode field is complete, fill its address field from /api/v1/procedures/postcodes/.
// 2. Move focus to the error summary so screen readers announce it.
(function () {
  "use strict";
  function lookup(input) {
    var target = input.getAttribute("data-address-field");
    var value = (input.value || "").replace(/[０-９]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xfee0); }).replace(/[^0-9]/g, "");
    if (!target || value.length !== 7) { return; }
    var address = document.getElementById("id_" + target) || document.querySelector('[name="' + target + '"]');
    if (!address || address.value) { return; }
    fetch("/api/v1/procedures/postcodes/" + value, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && !address.value) {
          address.value = data.text;
          var note = document.getElementById(input.id + "_lookup");
          if (!note) {
            note = document.createElement("p");
            note.id = input.id + "_lookup";
            note.className = "field__help";
            note.setAttribute("role", "status");
            input.parentNode.appendChild(note);
          }
          note.textContent = data.text;
        }
      })
      .catch(function () {});
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-postcode]").forEach(function (input) {
      input.addEventListener("change", function () { lookup(input); });
    });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();

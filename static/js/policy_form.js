/* Policy form enhancement (the form works without it): Add/Remove notification method rows in place, offer only
   the integrations of the chosen output type, and enable the severity threshold only for triggers that have one. */
(function () {
  "use strict";

  function init() {
    var form = document.querySelector("form.policy-form");
    if (!form) return;
    var rows = document.getElementById("method-rows");
    var template = document.getElementById("method-row-template");
    var total = form.querySelector("input[name='methods-TOTAL_FORMS']");
    var addButton = document.getElementById("add-method");

    function visibleRows() {
      return Array.prototype.filter.call(rows.querySelectorAll("[data-method-row]"), function (row) {
        return !row.hidden;
      });
    }

    function renumber() {
      visibleRows().forEach(function (row, index) {
        row.querySelector(".method-number").textContent = String(index + 1);
      });
    }

    function filterIntegrations(row) {
      var kind = row.querySelector(".method-kind").value;
      var select = row.querySelector(".method-integration");
      select.querySelectorAll("option[data-kind]").forEach(function (option) {
        var other = Boolean(kind) && option.dataset.kind !== kind;
        option.hidden = other;
        option.disabled = other;
      });
      select.querySelectorAll("optgroup").forEach(function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
      var chosen = select.options[select.selectedIndex];
      if (chosen && chosen.disabled) select.value = "";
    }

    function isEmpty(row) {
      return !row.querySelector(".method-kind").value && !row.querySelector(".method-integration").value;
    }

    function enhance(row) {
      var kind = row.querySelector(".method-kind");
      var integration = row.querySelector(".method-integration");
      var removeBox = row.querySelector("input[name$='-DELETE']");
      var removeLabel = row.querySelector(".remove-box");
      var removeButton = row.querySelector(".js-remove");
      if (removeLabel) removeLabel.hidden = true;
      removeButton.hidden = false;
      if (removeBox && removeBox.checked) row.hidden = true;
      kind.addEventListener("change", function () { filterIntegrations(row); });
      integration.addEventListener("change", function () {
        // Choosing an integration first fills in its type.
        var chosen = integration.options[integration.selectedIndex];
        if (chosen && chosen.dataset.kind && !kind.value) {
          kind.value = chosen.dataset.kind;
          filterIntegrations(row);
        }
      });
      removeButton.addEventListener("click", function () {
        if (visibleRows().length <= 1) {
          // A policy needs at least one method: the last row is cleared, not removed.
          kind.value = "";
          integration.value = "";
          filterIntegrations(row);
          kind.focus();
          return;
        }
        if (removeBox) removeBox.checked = true;
        row.hidden = true;
        renumber();
        addButton.focus();
      });
      filterIntegrations(row);
    }

    rows.querySelectorAll("[data-method-row]").forEach(enhance);
    // The server adds an empty row for people without JavaScript; with the Add button it is only clutter.
    var shown = visibleRows();
    if (shown.length > 1 && isEmpty(shown[shown.length - 1]) && !shown[shown.length - 1].classList.contains("has-error")) {
      shown[shown.length - 1].hidden = true;
    }
    renumber();

    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      rows.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, String(index)));
      total.value = String(index + 1);
      var row = rows.lastElementChild;
      enhance(row);
      renumber();
      row.querySelector(".method-kind").focus();
    });

    var trigger = form.querySelector("select[name='trigger']");
    var threshold = form.querySelector("select[name='min_severity']");
    var withThreshold = (trigger.dataset.thresholds || "").split(",");
    function syncThreshold() {
      var applies = withThreshold.indexOf(trigger.value) !== -1;
      threshold.disabled = !applies;
      if (!applies) threshold.value = "";
      threshold.closest(".field").classList.toggle("is-disabled", !applies);
    }
    trigger.addEventListener("change", syncThreshold);
    syncThreshold();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

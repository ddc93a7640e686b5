/* Sliders (config.forms.UnitSlider) show their value next to them as it moves.
   A static file: the admin's Content-Security-Policy refuses inline scripts. */
(function () {
  "use strict";
  function show(input) {
    var output = input.parentNode.querySelector(".unit-slider-value");
    if (output) output.textContent = input.value;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches(".unit-slider input[type=range]")) show(event.target);
  });
})();

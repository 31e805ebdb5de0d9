// The dashboard's stylesheet and script, served from the program itself (/static/ui.css,
// /static/ui.js): the pages need nothing from outside the machine.
#pragma once

#include <string_view>

namespace delta_ui {

extern const std::string_view kStylesheet;
// Asks before a form with data-confirm is sent; every data-refresh seconds, while the
// page is visible, the "refresh" box is ticked and no filter is being edited, fetches the
// page's own URL again (a GET: never a form resent) and swaps in its content; drops the
// notice of the last action from the address.
extern const std::string_view kScript;

}  // namespace delta_ui

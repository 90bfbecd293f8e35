// The labeling web page of `lmforge label`, built into the binary (no external network, no
// files next to the program): one HTML document, its stylesheet and its script. The script speaks
// the JSON API of label_server.h. Not here: any server logic.
#pragma once

namespace lmforge {

const char* label_page_html();  // served at /
const char* label_page_css();   // served at /label.css
const char* label_page_js();    // served at /label.js

}  // namespace lmforge

# The layer rule, checked before anything compiles (CMakeLists.txt runs this script as a build
# step; see CONTRIBUTING.md, "Layers"). Every file of src/<layer>/ and include/lmforge/<layer>/
# may include the headers of its own layer and of the layers its lmforge_layer() call names, and
# nothing else: a public header (include/lmforge/<layer>/) only those named PUBLIC, since whoever
# includes it must see them too. An include of "lmforge/<other>/..." or of another layer's private
# "<other>/..." header is refused with the file, the line and what the layer may use.
#   cmake -DSOURCE_DIR=... -DLAYERS_FILE=build/lmforge_layers.cmake [-DSTAMP=file] -P check_layers.cmake
# LAYERS_FILE sets LMFORGE_LAYERS (lowest first) and, per layer, LMFORGE_PUBLIC_<l> and
# LMFORGE_DEPS_<l>.
cmake_minimum_required(VERSION 3.20)
get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)
include(${LAYERS_FILE})

set(errors 0)
foreach(layer ${LMFORGE_LAYERS})
  set(allowed ${layer} ${LMFORGE_PUBLIC_${layer}} ${LMFORGE_DEPS_${layer}})
  set(allowed_public ${layer} ${LMFORGE_PUBLIC_${layer}})
  file(GLOB_RECURSE files ${SOURCE_DIR}/src/${layer}/*.cpp ${SOURCE_DIR}/src/${layer}/*.h
       ${SOURCE_DIR}/include/lmforge/${layer}/*.h)
  foreach(f ${files})
    file(RELATIVE_PATH rel ${SOURCE_DIR} ${f})
    if(rel MATCHES "^include/")
      set(may ${allowed_public})
      set(kind "its public headers may include")
    else()
      set(may ${allowed})
      set(kind "it may include")
    endif()
    file(READ ${f} text)
    string(REPLACE "\\" "/" text "${text}")
    # One list element per line (brackets and semicolons would split or join elements).
    string(REPLACE ";" "," text "${text}")
    string(REPLACE "[" "(" text "${text}")
    string(REPLACE "]" ")" text "${text}")
    string(REPLACE "\n" ";" lines "${text}")
    set(n 0)
    foreach(line IN LISTS lines)
      math(EXPR n "${n} + 1")
      if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"(lmforge/)?([a-z0-9_]+)/")
        continue()
      endif()
      set(target ${CMAKE_MATCH_2})
      list(FIND LMFORGE_LAYERS ${target} is_layer)
      if(is_layer LESS 0)
        continue()  # a folder of this layer's own (e.g. "cpu/x.h"), not another layer
      endif()
      list(FIND may ${target} ok)
      if(ok LESS 0)
        string(STRIP "${line}" line)
        string(REPLACE ";" " " may_text "${may}")
        list(FIND allowed ${target} private_ok)
        if(private_ok GREATER -1)
          set(why "'${target}' is a DEPS (private) layer of '${layer}', and a public header may "
                  "include only PUBLIC ones (${may_text}): include it from a .cpp, or list it "
                  "under PUBLIC in lmforge_layer(${layer} ...)")
        else()
          set(why "layer '${layer}' does not name '${target}': ${kind} ${may_text}. Move the code "
                  "to the right layer, or name the dependency in lmforge_layer(${layer} ...) if "
                  "'${target}' is below '${layer}'")
        endif()
        string(CONCAT why ${why})
        message(SEND_ERROR "${rel}:${n}: ${line}: ${why} (CONTRIBUTING.md, Layers).")
        math(EXPR errors "${errors} + 1")
      endif()
    endforeach()
  endforeach()
endforeach()
if(errors GREATER 0)
  message(FATAL_ERROR "${errors} include(s) break the layer rule")
endif()
if(STAMP)
  file(TOUCH ${STAMP})
endif()

# Fails when a file of src/ includes a header of a layer above its own, or a public header
# its layer must not know. LAYERS lists the folders of src/ from the bottom up; each may
# include its own folder and those before it.
#   cmake -DLAYERS=common,pg,... -DSRC_DIR=/abs/src -DSTAMP=out.stamp -P check_layers.cmake

# Public headers a layer must not include, because they belong to a layer above it (the
# engines' options come through their own structs, never through the client's Config).
cmake_policy(SET CMP0057 NEW)

set(forbidden_common "delta/delta.hpp;delta/client.hpp;delta/admin.hpp;delta/controller.hpp;delta/resource.hpp;delta/namespace.hpp;delta/jobs.hpp")
set(forbidden_pg ${forbidden_common})
set(forbidden_schema ${forbidden_common})
set(forbidden_runtime ${forbidden_common})
set(forbidden_jobs "delta/delta.hpp;delta/client.hpp;delta/admin.hpp;delta/controller.hpp;delta/resource.hpp;delta/namespace.hpp")
set(forbidden_resources "delta/delta.hpp;delta/client.hpp;delta/admin.hpp")
set(forbidden_client "delta/admin.hpp")
# The admin API works without a running Client.
set(forbidden_admin "delta/delta.hpp;delta/client.hpp")

string(REPLACE "," ";" LAYERS "${LAYERS}")
set(problems "")
list(LENGTH LAYERS count)
math(EXPR last "${count} - 1")
foreach(index RANGE ${last})
  list(GET LAYERS ${index} layer)
  set(above "")
  if(index LESS last)
    math(EXPR next "${index} + 1")
    foreach(upper RANGE ${next} ${last})
      list(GET LAYERS ${upper} name)
      list(APPEND above ${name})
    endforeach()
  endif()
  file(GLOB files ${SRC_DIR}/${layer}/*.cpp ${SRC_DIR}/${layer}/*.hpp)
  foreach(file ${files})
    file(STRINGS ${file} includes REGEX "^#include [\"<]")
    foreach(line ${includes})
      string(REGEX REPLACE "^#include [\"<]([^\">]+)[\">].*$" "\\1" header "${line}")
      string(REGEX MATCH "^[a-z_]+" folder "${header}")
      file(RELATIVE_PATH shown ${SRC_DIR} ${file})
      set(shown "src/${shown}")
      if(folder IN_LIST above)
        string(APPEND problems "\n  ${shown}: ${layer} includes ${header} of the layer above it")
      endif()
      if(header IN_LIST forbidden_${layer})
        string(APPEND problems "\n  ${shown}: ${layer} must not include <${header}>")
      endif()
    endforeach()
  endforeach()
endforeach()
if(problems)
  message(FATAL_ERROR "layering broken (src/ dependencies point down: ${LAYERS}):${problems}")
endif()
file(WRITE ${STAMP} "ok\n")

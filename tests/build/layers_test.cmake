# cmake/check_layers.cmake fails for an include that points up the layers, or a public
# header a layer must not know, and passes a tree whose includes point down.
#   cmake -DCHECK=cmake/check_layers.cmake -DWORK=<scratch dir> -P layers_test.cmake
set(layers "common,pg,runtime,jobs")

function(run_check tree expect_ok expected_text)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -DLAYERS=${layers} -DSRC_DIR=${tree} -DSTAMP=${tree}/stamp -P ${CHECK}
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(expect_ok AND NOT result EQUAL 0)
    message(FATAL_ERROR "a clean tree was refused:\n${err}")
  endif()
  if(NOT expect_ok)
    if(result EQUAL 0)
      message(FATAL_ERROR "a tree with ${expected_text} passed")
    endif()
    string(FIND "${err}" "${expected_text}" found)
    if(found EQUAL -1)
      message(FATAL_ERROR "the error does not name \"${expected_text}\":\n${err}")
    endif()
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(WRITE ${WORK}/clean/common/a.hpp "#include <vector>\n#include <delta/time.hpp>\n")
file(WRITE ${WORK}/clean/pg/b.cpp "#include \"common/a.hpp\"\n#include \"pg/b.hpp\"\n")
file(WRITE ${WORK}/clean/jobs/c.cpp "#include \"runtime/d.hpp\"\n#include <delta/jobs.hpp>\n")
run_check(${WORK}/clean TRUE "")

file(COPY ${WORK}/clean/ DESTINATION ${WORK}/upward)
file(APPEND ${WORK}/upward/pg/b.cpp "#include \"jobs/c.hpp\"\n")
run_check(${WORK}/upward FALSE "src/pg/b.cpp: pg includes jobs/c.hpp of the layer above it")

file(COPY ${WORK}/clean/ DESTINATION ${WORK}/public)
file(APPEND ${WORK}/public/runtime/e.hpp "#include <delta/client.hpp>\n")
run_check(${WORK}/public FALSE "src/runtime/e.hpp: runtime must not include <delta/client.hpp>")
file(REMOVE_RECURSE ${WORK})

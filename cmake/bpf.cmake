# Compiles probes/<name>.bpf.c for the BPF target (CO-RE) and generates <name>.skel.h.
#
# vmlinux.h is pinned per architecture under probes/vmlinux/<arch>/ (see README, "Why a pinned
# vmlinux.h"); -DTRACEIFACE_VMLINUX_FROM_HOST=ON regenerates it from the build machine instead.

set(TRACEIFACE_GENERATED_DIR ${CMAKE_BINARY_DIR}/generated)
file(MAKE_DIRECTORY ${TRACEIFACE_GENERATED_DIR})

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(TRACEIFACE_BPF_ARCH x86)
  set(TRACEIFACE_VMLINUX_ARCH x86_64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(TRACEIFACE_BPF_ARCH arm64)
  set(TRACEIFACE_VMLINUX_ARCH aarch64)
else()
  message(FATAL_ERROR "traceiface: no BPF target mapping for ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(_pinned ${CMAKE_SOURCE_DIR}/probes/vmlinux/${TRACEIFACE_VMLINUX_ARCH})
if(TRACEIFACE_VMLINUX_FROM_HOST OR NOT EXISTS ${_pinned}/vmlinux.h)
  set(TRACEIFACE_VMLINUX_DIR ${TRACEIFACE_GENERATED_DIR}/vmlinux)
  file(MAKE_DIRECTORY ${TRACEIFACE_VMLINUX_DIR})
  add_custom_command(
    OUTPUT ${TRACEIFACE_VMLINUX_DIR}/vmlinux.h
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${TRACEIFACE_VMLINUX_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from this machine's kernel BTF")
  set(_vmlinux_dep ${TRACEIFACE_VMLINUX_DIR}/vmlinux.h)
else()
  set(TRACEIFACE_VMLINUX_DIR ${_pinned})
  set(_vmlinux_dep ${_pinned}/vmlinux.h)
endif()

add_custom_target(traceiface_skeletons)
file(GLOB TRACEIFACE_PROBE_HEADERS ${CMAKE_SOURCE_DIR}/probes/*.h)

# traceiface_bpf_skeleton(NAME [SOURCE_DIR]): SOURCE_DIR defaults to probes/.
function(traceiface_bpf_skeleton name)
  set(dir ${CMAKE_SOURCE_DIR}/probes)
  if(ARGC GREATER 1)
    set(dir ${ARGV1})
  endif()
  set(src ${dir}/${name}.bpf.c)
  set(obj ${TRACEIFACE_GENERATED_DIR}/${name}.bpf.o)
  set(skel ${TRACEIFACE_GENERATED_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    # The file names BTF keeps (line info) relative to the checkout: the binary then holds no
    # path of the machine it was built on, and two checkouts build the same bytes.
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${TRACEIFACE_BPF_ARCH}
            -ffile-prefix-map=${CMAKE_SOURCE_DIR}/= -ffile-prefix-map=${CMAKE_BINARY_DIR}/=
            -I${CMAKE_SOURCE_DIR}/probes -I${TRACEIFACE_VMLINUX_DIR} -c ${src} -o ${obj}
    # Keep BTF (CO-RE needs it), drop DWARF: the skeleton embeds the object.
    COMMAND ${LLVM_STRIP} -g ${obj}
    DEPENDS ${src} ${TRACEIFACE_PROBE_HEADERS} ${_vmlinux_dep}
    COMMENT "BPF ${name}.bpf.c")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h")
  add_custom_target(${name}_skel DEPENDS ${skel})
  add_dependencies(traceiface_skeletons ${name}_skel)
endfunction()

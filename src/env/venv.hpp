// Creating an empty PEP 405 virtual environment directly (what `python -m venv --without-pip`
// writes, without running Python).
#pragma once

#include <string>
#include <vector>

#include "env/types.hpp"
#include "interp/interpreter.hpp"
#include "util/result.hpp"

namespace lb::env {

/// Create an empty venv in `dir` (which must not exist or be empty; its parent is created) whose
/// files refer to `final_dir`, the path the env will have after it is renamed into place: bin/<exe>
/// -> interp.executable and python, python3, python3.X -> <exe> (as venv does), lib64 -> lib,
/// pyvenv.cfg in the format `python -m venv` writes for that version, activate scripts from
/// interp.venv_scripts_dir (when present), .gitignore (3.13+), the include dir and an empty
/// site-packages. When `files` is given it receives one entry per file and symlink created
/// (activate scripts and pyvenv.cfg are per-env), sorted by path.
Status create_venv(const std::string& dir, const std::string& final_dir,
                   const interp::Interpreter& interp, std::vector<FileEntry>* files = nullptr);

/// The pyvenv.cfg text `python -m venv --without-pip <final_dir>` writes for `interp`.
std::string pyvenv_cfg(const std::string& final_dir, const interp::Interpreter& interp);

/// The include dir venv creates, relative to the env root ("include/python3.11"; "include"
/// before 3.11).
std::string venv_include_dir(const interp::Interpreter& interp);

}  // namespace lb::env

"""vLLM-managed models (``--llm-model=vllm:MODEL_OR_DIR``): the plugin starts, shares and stops the server.

One concept a module: :mod:`.arguments` (the model arguments after the spec), :mod:`.planning`
(dtype, parallelism, tool-call parser and the command, from the visible GPUs and the model),
:mod:`.server` (one server per configuration, shared by every process of a run, stopped by the
last), :mod:`.watchdog` (the script that stops the server when every user is gone),
:mod:`.backend` (the :class:`VLLMBackend`). Importing this package starts nothing and imports
neither vLLM nor torch. See docs/vllm.md.
"""

from .arguments import VLLMArguments, parse_arguments, split_target
from .backend import SERVER_MODULE, VLLMBackend, model_fingerprint, vllm_version
from .planning import TOOL_PARSERS, Gpus, ServerPlan, plan, tool_parser_for, visible_gpus, weights_bytes
from .server import ServerCommand, ServerState, SharedServer, free_port, log_tail

__all__ = ["SERVER_MODULE", "TOOL_PARSERS", "Gpus", "ServerCommand", "ServerPlan", "ServerState", "SharedServer",
           "VLLMArguments", "VLLMBackend", "free_port", "log_tail", "model_fingerprint", "parse_arguments", "plan",
           "split_target", "tool_parser_for", "visible_gpus", "vllm_version", "weights_bytes"]

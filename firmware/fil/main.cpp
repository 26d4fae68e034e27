// board_sim: the board top's Verilator model with C++ UART pins, in one of two modes:
//   board_sim fil ...      firmware in the loop (fil.cpp)
//   board_sim bridge ...   a pipe for the Python driver's SimTransport (bridge.cpp)
#include <cstdio>
#include <cstring>

int fil_main(int argc, char** argv);
int bridge_main(int argc, char** argv);

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "fil") == 0) return fil_main(argc - 1, argv + 1);
    if (argc >= 2 && std::strcmp(argv[1], "bridge") == 0) return bridge_main(argc - 1, argv + 1);
    std::fprintf(stderr, "usage: board_sim fil|bridge ARGS...\n");
    return 2;
}

// A churn of short TCP connections, the workload where inet_sock_set_state runs most: every
// connection passes CLOSE -> SYN_SENT -> ESTABLISHED -> CLOSE on the client and SYN_RECV ->
// ESTABLISHED -> CLOSE on the server. The client closes with an RST (SO_LINGER 0), so no
// TIME_WAIT piles up and ports never run out however long it runs.
//
//   connect_churn server IP PORT                     accept and close until killed
//   connect_churn client IP PORT SECONDS THREADS     prints connections per second
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

sockaddr_in address(const char* ip, const char* port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        std::fprintf(stderr, "connect_churn: bad IPv4 address %s\n", ip);
        std::exit(2);
    }
    return a;
}

int serve(const sockaddr_in& a) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0 || listen(s, 4096) != 0) {
        std::perror("connect_churn: bind/listen");
        return 1;
    }
    std::printf("listening\n");
    std::fflush(stdout);
    // Two acceptors: one per CPU of the machines this runs on.
    std::vector<std::thread> acceptors;
    for (int i = 0; i < 2; ++i)
        acceptors.emplace_back([s] {
            for (;;) {
                int c = accept(s, nullptr, nullptr);
                if (c >= 0)
                    close(c);
            }
        });
    for (auto& t : acceptors)
        t.join();
    return 0;
}

int churn(const sockaddr_in& a, double seconds, int threads) {
    std::atomic<long> done{0}, failed{0};
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::vector<std::thread> clients;
    for (int i = 0; i < threads; ++i)
        clients.emplace_back([&] {
            const linger rst{1, 0};
            while (std::chrono::steady_clock::now() < end) {
                int c = socket(AF_INET, SOCK_STREAM, 0);
                setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
                if (connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0)
                    done.fetch_add(1, std::memory_order_relaxed);
                else
                    failed.fetch_add(1, std::memory_order_relaxed);
                close(c);
            }
        });
    for (auto& t : clients)
        t.join();
    if (failed.load() > done.load() / 100) {
        std::fprintf(stderr, "connect_churn: %ld of %ld connects failed\n", failed.load(),
                     failed.load() + done.load());
        return 1;
    }
    std::printf("%.0f\n", double(done.load()) / seconds);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::strcmp(argv[1], "server") == 0)
        return serve(address(argv[2], argv[3]));
    if (argc == 6 && std::strcmp(argv[1], "client") == 0)
        return churn(address(argv[2], argv[3]), std::atof(argv[4]), std::atoi(argv[5]));
    std::fprintf(stderr, "usage: connect_churn server IP PORT\n"
                         "       connect_churn client IP PORT SECONDS THREADS\n");
    return 2;
}

// LoopbackDynamoDB starts Amazon's DynamoDB Local listening on 127.0.0.1
// only. DynamoDB Local has no option for the address it listens on and takes
// every interface; this launcher builds its server from the same command line
// (-inMemory -sharedDb -port P ...), sets the Jetty connector's host, and
// starts it. make run-aws-local runs it as a single-file source program:
//
//	java -cp DynamoDBLocal.jar LoopbackDynamoDB.java -inMemory -sharedDb -port 8000
import java.lang.reflect.Field;

import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class LoopbackDynamoDB {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field f = DynamoDBProxyServer.class.getDeclaredField("server");
        f.setAccessible(true);
        Server jetty = (Server) f.get(proxy);
        int bound = 0;
        for (Connector c : jetty.getConnectors()) {
            if (c instanceof ServerConnector) {
                ((ServerConnector) c).setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) {
            System.err.println("LoopbackDynamoDB: DynamoDB Local's server has no connector to bind to 127.0.0.1");
            System.exit(1);
        }
        proxy.start();
        System.out.println("DynamoDB Local listens on 127.0.0.1 only");
        proxy.join();
    }
}

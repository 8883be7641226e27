-- AlterTable
ALTER TABLE "users" ADD COLUMN     "number_released_at" TIMESTAMPTZ(3),
ALTER COLUMN "phone_number" DROP NOT NULL;
